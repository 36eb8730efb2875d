"""credentials

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Reserved for the credentials tables; empty until that feature lands (keeps one linear history).
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import item_bank.orm  # noqa: F401
from sqlalchemy import Text  # noqa: F401

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
