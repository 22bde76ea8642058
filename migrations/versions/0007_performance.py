"""performance: an index for the public dashboard's counts of live rollouts

Revision ID: 0007_performance
Revises: 0006_transparency
Create Date: 2026-11-29 21:55:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0007_performance"
down_revision = "0006_transparency"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("rollout", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rollout_status_kreis",
            ["status", "kreis_ags", "authority_id", "reuse_id"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("rollout", schema=None) as batch_op:
        batch_op.drop_index("ix_rollout_status_kreis")
