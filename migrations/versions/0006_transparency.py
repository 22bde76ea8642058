"""transparency: follows of listings and Länder, reminders of long waits

Revision ID: 0006_transparency
Revises: 0005_cost_plans
Create Date: 2026-11-29 17:31:01.254225

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006_transparency"
down_revision = "0005_cost_plans"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "follow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=True),
        sa.Column("land_ags", sa.String(length=2), nullable=True),
        sa.Column("in_app", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "(listing_id IS NULL) <> (land_ags IS NULL)", name=op.f("ck_follow_follows_one_target")
        ),
        sa.CheckConstraint("in_app OR email", name=op.f("ck_follow_follow_has_channel")),
        sa.ForeignKeyConstraint(["land_ags"], ["land.ags"], name=op.f("fk_follow_land_ags_land")),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listing.id"], name=op.f("fk_follow_listing_id_listing")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_follow_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow")),
        sa.UniqueConstraint("user_id", "land_ags", name="uq_follow_user_land"),
        sa.UniqueConstraint("user_id", "listing_id", name="uq_follow_user_listing"),
    )
    with op.batch_alter_table("follow", schema=None) as batch_op:
        batch_op.create_index("ix_follow_land", ["land_ags"], unique=False)
        batch_op.create_index("ix_follow_listing", ["listing_id"], unique=False)

    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reuse_id", sa.Integer(), nullable=False),
        sa.Column("wait_key", sa.String(length=40), nullable=False),
        sa.Column("wait_since", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reuse_id"], ["reuse.id"], name=op.f("fk_reminder_reuse_id_reuse")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder")),
        sa.UniqueConstraint("reuse_id", "wait_key", "wait_since", name="uq_reminder_wait"),
    )


def downgrade():
    op.drop_table("reminder")
    with op.batch_alter_table("follow", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_listing")
        batch_op.drop_index("ix_follow_land")

    op.drop_table("follow")
