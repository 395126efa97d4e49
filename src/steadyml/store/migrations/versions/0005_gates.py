"""gate results recorded on model versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

MS = sa.BigInteger()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'model_version_gates',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('model_version_id', ID, nullable=False),
        sa.Column('gate', sa.String(length=128), nullable=False),
        sa.Column('passed', sa.Boolean(), nullable=False),
        sa.Column('result', sa.Text(), nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=True),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('created_ms', MS, nullable=False),
        sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'],
                                name=op.f('fk_model_version_gates_model_version_id_model_versions')),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'],
                                name=op.f('fk_model_version_gates_run_id_runs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_model_version_gates')))
    op.create_index(op.f('ix_model_version_gates_model_version_id_gate'), 'model_version_gates',
                    ['model_version_id', 'gate'])


def downgrade() -> None:
    op.drop_table('model_version_gates')
