"""outcomes, policies, alerts, controller events, drift windows, retrains

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

MS = sa.BigInteger()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'outcomes',
        sa.Column('request_id', sa.String(length=128), nullable=False),
        sa.Column('value_num', sa.Float(), nullable=True),
        sa.Column('value_text', sa.String(length=256), nullable=True),
        sa.Column('received_ms', MS, nullable=False),
        sa.Column('source', sa.String(length=64), server_default='api', nullable=False),
        sa.PrimaryKeyConstraint('request_id', name=op.f('pk_outcomes')))
    op.create_index(op.f('ix_outcomes_received_ms'), 'outcomes', ['received_ms'])
    op.create_table(
        'policies',
        sa.Column('deployment', sa.String(length=128), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('source', sa.Text(), server_default='', nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('updated_ms', MS, nullable=False),
        sa.PrimaryKeyConstraint('deployment', name=op.f('pk_policies')))
    op.create_table(
        'alerts',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('deployment', sa.String(length=128), nullable=False),
        sa.Column('key', sa.String(length=256), nullable=False),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('evidence', sa.Text(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('first_ms', MS, nullable=False),
        sa.Column('last_ms', MS, nullable=False),
        sa.Column('notified_ms', MS, nullable=True),
        sa.Column('resolved_ms', MS, nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')))
    op.create_index(op.f('ix_alerts_deployment_key_status'), 'alerts',
                    ['deployment', 'key', 'status'])
    op.create_table(
        'controller_events',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('deployment', sa.String(length=128), nullable=False),
        sa.Column('ts_ms', MS, nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('evidence', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_controller_events')))
    op.create_index(op.f('ix_controller_events_deployment_ts_ms'), 'controller_events',
                    ['deployment', 'ts_ms'])
    op.create_table(
        'drift_windows',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('deployment', sa.String(length=128), nullable=False),
        sa.Column('end_ms', MS, nullable=False),
        sa.Column('window_s', sa.Float(), nullable=False),
        sa.Column('reference', sa.String(length=32), nullable=False),
        sa.Column('rows', sa.BigInteger(), nullable=False),
        sa.Column('flagged', sa.Text(), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_drift_windows')))
    op.create_index(op.f('ix_drift_windows_deployment_end_ms'), 'drift_windows',
                    ['deployment', 'end_ms'])
    op.create_table(
        'retrains',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('deployment', sa.String(length=128), nullable=False),
        sa.Column('started_ms', MS, nullable=False),
        sa.Column('finished_ms', MS, nullable=True),
        sa.Column('command', sa.Text(), nullable=False),
        sa.Column('estimated_cost', sa.Float(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('exit_code', sa.Integer(), nullable=True),
        sa.Column('output_tail', sa.Text(), server_default='', nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retrains')))
    op.create_index(op.f('ix_retrains_deployment'), 'retrains', ['deployment'])


def downgrade() -> None:
    for table in ('retrains', 'drift_windows', 'controller_events', 'alerts', 'policies',
                  'outcomes'):
        op.drop_table(table)
