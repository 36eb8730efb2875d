"""grading and psychometrics

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Reserved for the grading and psychometrics tables; empty until that feature lands (keeps one linear history).
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import item_bank.orm  # noqa: F401
from sqlalchemy import Text  # noqa: F401

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
