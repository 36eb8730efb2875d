"""grading and psychometrics: manual marks, key overrides, adaptive state

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa
import item_bank.orm
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('exam_key_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('scoring', JSON, nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', item_bank.orm.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_exam_key_overrides_created_by_users')),
    sa.ForeignKeyConstraint(['exam_id'], ['exams.id'], name=op.f('fk_exam_key_overrides_exam_id_exams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exam_key_overrides')),
    sa.UniqueConstraint('exam_id', 'item_id', name=op.f('uq_exam_key_overrides_exam_id'))
    )
    with op.batch_alter_table('exam_key_overrides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exam_key_overrides_exam_id'), ['exam_id'], unique=False)

    op.create_table('manual_marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.String(length=32), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('marker_id', sa.Integer(), nullable=False),
    sa.Column('levels', JSON, nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', item_bank.orm.UTCDateTime(timezone=True), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['marker_id'], ['users.id'], name=op.f('fk_manual_marks_marker_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], name=op.f('fk_manual_marks_session_id_exam_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manual_marks')),
    sa.UniqueConstraint('session_id', 'item_id', 'marker_id', name=op.f('uq_manual_marks_session_id'))
    )
    with op.batch_alter_table('manual_marks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manual_marks_session_id'), ['session_id'], unique=False)

    with op.batch_alter_table('exam_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adaptive_state', JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('exam_sessions', schema=None) as batch_op:
        batch_op.drop_column('adaptive_state')
    with op.batch_alter_table('manual_marks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manual_marks_session_id'))
    op.drop_table('manual_marks')
    with op.batch_alter_table('exam_key_overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exam_key_overrides_exam_id'))
    op.drop_table('exam_key_overrides')
