"""deployments and tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:50:46.731463
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('revoked_ms', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens'))
    )
    op.create_table('deployments',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('config', sa.Text(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_deployments'))
    )
    op.create_table('deployment_revisions',
    sa.Column('deployment', sa.String(length=128), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('stable_model', sa.String(length=128), nullable=False),
    sa.Column('stable_version', sa.Integer(), nullable=False),
    sa.Column('candidate_model', sa.String(length=128), nullable=True),
    sa.Column('candidate_version', sa.Integer(), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=True),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['deployment'], ['deployments.name'], name=op.f('fk_deployment_revisions_deployment_deployments')),
    sa.PrimaryKeyConstraint('deployment', 'revision', name=op.f('pk_deployment_revisions'))
    )


def downgrade() -> None:
    op.drop_table('deployment_revisions')
    op.drop_table('deployments')
    op.drop_table('api_tokens')
