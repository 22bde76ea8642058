"""cost plans: line items per listing and year

Revision ID: 0005_cost_plans
Revises: 0004_cost_data
Create Date: 2026-11-29 13:43:07.916152

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005_cost_plans"
down_revision = "0004_cost_data"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cost_plan_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column(
            "cost_type",
            sa.Enum(
                "infrastructure",
                "development",
                "platform_fees",
                "service_operation",
                "direct",
                name="costtype",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_cost_plan_item_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_cost_plan_item_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listing.id"], name=op.f("fk_cost_plan_item_listing_id_listing")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_plan_item")),
    )
    with op.batch_alter_table("cost_plan_item", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cost_plan_item_listing_year", ["listing_id", "year"], unique=False
        )
        batch_op.create_index("ix_cost_plan_item_year", ["year", "listing_id"], unique=False)


def downgrade():
    with op.batch_alter_table("cost_plan_item", schema=None) as batch_op:
        batch_op.drop_index("ix_cost_plan_item_year")
        batch_op.drop_index("ix_cost_plan_item_listing_year")

    op.drop_table("cost_plan_item")
