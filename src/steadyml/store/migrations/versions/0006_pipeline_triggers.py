"""pipeline run locks, trigger records and cron schedules

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

MS = sa.BigInteger()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'pipeline_locks',
        sa.Column('target', sa.String(length=256), nullable=False),
        sa.Column('holder', sa.String(length=32), nullable=False),
        sa.Column('pipeline', sa.String(length=128), nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=True),
        sa.Column('trigger_id', ID, nullable=True),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_ms', MS, nullable=False),
        sa.Column('heartbeat_ms', MS, nullable=False),
        sa.PrimaryKeyConstraint('target', name=op.f('pk_pipeline_locks')))
    op.create_table(
        'pipeline_triggers',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('pipeline', sa.String(length=128), nullable=False),
        sa.Column('target', sa.String(length=256), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('origin', sa.String(length=256), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('requested_ms', MS, nullable=False),
        sa.Column('decided_ms', MS, nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline_triggers')))
    op.create_index(op.f('ix_pipeline_triggers_pipeline_requested_ms'), 'pipeline_triggers',
                    ['pipeline', 'requested_ms'])
    op.create_index(op.f('ix_pipeline_triggers_target_requested_ms'), 'pipeline_triggers',
                    ['target', 'requested_ms'])
    op.create_index(op.f('ix_pipeline_triggers_requested_ms'), 'pipeline_triggers',
                    ['requested_ms'])
    op.create_table(
        'pipeline_schedules',
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('ref', sa.Text(), nullable=False),
        sa.Column('pipeline', sa.String(length=128), nullable=False),
        sa.Column('cron', sa.String(length=128), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('params', sa.Text(), nullable=False),
        sa.Column('target', sa.String(length=256), nullable=True),
        sa.Column('created_ms', MS, nullable=False),
        sa.Column('created_by', sa.String(length=128), nullable=False),
        sa.Column('next_run_ms', MS, nullable=False),
        sa.Column('last_run_ms', MS, nullable=True),
        sa.Column('last_exit_code', sa.Integer(), nullable=True),
        sa.Column('last_output', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_pipeline_schedules')))
    op.create_index(op.f('ix_pipeline_schedules_next_run_ms'), 'pipeline_schedules',
                    ['next_run_ms'])


def downgrade() -> None:
    op.drop_table('pipeline_schedules')
    op.drop_table('pipeline_triggers')
    op.drop_table('pipeline_locks')
