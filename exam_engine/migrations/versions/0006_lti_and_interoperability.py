"""lti and interoperability

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

Reserved for the lti and interoperability tables; empty until that feature lands (keeps one linear history).
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import item_bank.orm  # noqa: F401
from sqlalchemy import Text  # noqa: F401

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
