// A read-only version page: render the delivery view with the shared renderer.
import {pageData} from "./api.js";
import {renderItem} from "./render.js";

const {delivery} = pageData();
document.getElementById("preview").append(renderItem(delivery, {disabled: false}));
