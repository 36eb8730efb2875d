"""The examiners' live view: the `/monitor` namespace (watch, act) and batched updates."""
