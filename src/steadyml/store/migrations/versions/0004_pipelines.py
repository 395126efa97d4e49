"""pipeline runs and their steps

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 09:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

MS = sa.BigInteger()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'pipeline_runs',
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('pipeline', sa.String(length=128), nullable=False),
        sa.Column('source', sa.Text(), nullable=True),
        sa.Column('params', sa.Text(), nullable=False),
        sa.Column('seed', sa.BigInteger(), nullable=False),
        sa.Column('rerun_of', sa.String(length=32), nullable=True),
        sa.Column('started_ms', MS, nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'],
                                name=op.f('fk_pipeline_runs_run_id_runs')),
        sa.PrimaryKeyConstraint('run_id', name=op.f('pk_pipeline_runs')))
    op.create_index(op.f('ix_pipeline_runs_pipeline_started_ms'), 'pipeline_runs',
                    ['pipeline', 'started_ms'])
    op.create_index(op.f('ix_pipeline_runs_started_ms'), 'pipeline_runs', ['started_ms'])
    op.create_table(
        'pipeline_steps',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('step', sa.String(length=128), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('cache_key', sa.String(length=64), nullable=False),
        sa.Column('code_version', sa.String(length=64), nullable=False),
        sa.Column('inputs', sa.Text(), nullable=False),
        sa.Column('outputs', sa.Text(), nullable=False),
        sa.Column('metrics', sa.Text(), nullable=False),
        sa.Column('cached_from', sa.String(length=32), nullable=True),
        sa.Column('started_ms', MS, nullable=False),
        sa.Column('duration_ms', sa.Float(), nullable=False),
        sa.Column('log_digest', sa.String(length=64), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['run_id'], ['pipeline_runs.run_id'],
                                name=op.f('fk_pipeline_steps_run_id_pipeline_runs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline_steps')),
        sa.UniqueConstraint('run_id', 'position',
                            name=op.f('uq_pipeline_steps_run_id_position')))
    op.create_index(op.f('ix_pipeline_steps_cache_key'), 'pipeline_steps', ['cache_key'])


def downgrade() -> None:
    op.drop_table('pipeline_steps')
    op.drop_table('pipeline_runs')
