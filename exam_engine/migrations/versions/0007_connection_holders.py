"""connection holders: the worker incarnation and client instance holding an attempt's connection, and workers;
when a submitted attempt whose scoring failed is tried again

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import item_bank.orm

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workers',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('incarnation', sa.String(length=32), nullable=False),
    sa.Column('started_at', item_bank.orm.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_alive_at', item_bank.orm.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workers'))
    )
    with op.batch_alter_table('exam_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active_worker', sa.String(length=140), nullable=True))
        batch_op.add_column(sa.Column('active_client', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('score_retry_at', item_bank.orm.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('exam_sessions', schema=None) as batch_op:
        batch_op.drop_column('score_retry_at')
        batch_op.drop_column('active_client')
        batch_op.drop_column('active_worker')
    op.drop_table('workers')
