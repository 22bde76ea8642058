"""cost data: usage figures per listing, Land and year

Revision ID: 0004_cost_data
Revises: 0003_reuse
Create Date: 2026-11-29 12:18:46.798725

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004_cost_data"
down_revision = "0003_reuse"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "usage_figure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("land_ags", sa.String(length=2), nullable=False),
        sa.Column("cases", sa.BigInteger(), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column(
            "source",
            sa.Enum("entry", "import", name="usagesource", native_enum=False, length=6),
            nullable=False,
        ),
        sa.CheckConstraint("cases >= 0", name=op.f("ck_usage_figure_cases_not_negative")),
        sa.ForeignKeyConstraint(
            ["entered_by_id"],
            ["user_account.id"],
            name=op.f("fk_usage_figure_entered_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["land_ags"], ["land.ags"], name=op.f("fk_usage_figure_land_ags_land")
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listing.id"], name=op.f("fk_usage_figure_listing_id_listing")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_figure")),
        sa.UniqueConstraint(
            "listing_id", "year", "land_ags", name=op.f("uq_usage_figure_listing_id_year_land_ags")
        ),
    )


def downgrade():
    op.drop_table("usage_figure")
