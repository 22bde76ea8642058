"""Forms of the alliance page: join request, the lead's answer, cost-key proposal, vote.

Field rules only: the alliances service validates years, keys, percentages and
weights, and its messages are attached to these fields by name. Choice fields
therefore do not second-guess it (``validate_choice=False``).
"""

from __future__ import annotations

from functools import lru_cache

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField

from fitstore.models import CostKey, FundingModel
from fitstore.services.alliances import cost_key_label, funding_model_label
from fitstore.services.reference import shipped_land_codes

SHARE_PREFIX = "share_"
WEIGHT_PREFIX = "weight_"
# The keys a mixed key combines (every key but "mixed" itself).
MIXABLE_KEYS = tuple(key for key in CostKey if key != CostKey.MIXED)


class JoinForm(FlaskForm):
    message = TextAreaField(
        _l("Nachricht an die Leitung"),
        description=_l("z. B. geplanter Start und erwartete Nutzung; höchstens 2000 Zeichen."),
    )


class RequestDecisionForm(FlaskForm):
    """The lead's answer to a join request; the pressed button sends ``decision``."""

    decision = StringField(_l("Entscheidung"))

    def accept(self) -> bool | None:
        return {"accept": True, "decline": False}.get(self.decision.data or "")


class VoteForm(FlaskForm):
    vote = RadioField(_l("Ihre Stimme"), choices=[], validate_choice=False)
    comment = TextAreaField(_l("Kommentar"), description=_l("Höchstens 1000 Zeichen."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.vote.choices = [("approve", _l("Zustimmen")), ("object", _l("Widersprechen"))]


def vote_form(year: int, **kwargs) -> VoteForm:
    """A vote form whose ids are unique on a page that shows several years."""
    form = VoteForm(**kwargs)
    form.vote.id = f"vote-{year}"
    form.comment.id = f"comment-{year}"
    return form


class ProposalForm(FlaskForm):
    year = StringField(_l("Jahr"), description=_l("Das Kalenderjahr, für das der Schlüssel gilt."))
    key = RadioField(_l("Kostenschlüssel"), choices=[], validate_choice=False)
    funding_model = RadioField(_l("Finanzierungsmodell"), choices=[], validate_choice=False)
    rationale = TextAreaField(
        _l("Begründung"), description=_l("Für die Mitglieder; höchstens 2000 Zeichen.")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.key.choices = [(key.value, cost_key_label(key)) for key in CostKey]
        self.funding_model.choices = [
            (model.value, funding_model_label(model)) for model in FundingModel
        ]
        for key in MIXABLE_KEYS:
            self.share(key).label.text = cost_key_label(key)

    def share(self, key: CostKey):
        return getattr(self, SHARE_PREFIX + key.value)

    def weight(self, ags: str):
        return getattr(self, WEIGHT_PREFIX + ags)

    def shares(self) -> list:
        return [self.share(key) for key in MIXABLE_KEYS]

    def weights(self) -> list:
        return [self.weight(ags) for ags, _iso, _short in shipped_land_codes()]

    def label_weights(self, laender) -> None:
        """Name each weight field after its Land (the names live in the database)."""
        for land in laender:
            self.weight(land.ags).label.text = land.name

    def parameters(self) -> dict[str, str]:
        """The parameters of the chosen key as the service takes them; blank fields are left out."""
        if self.key.data == CostKey.MIXED.value:
            fields = {key.value: self.share(key) for key in MIXABLE_KEYS}
        elif self.key.data == CostKey.TARGET_GROUP.value:
            fields = {ags: self.weight(ags) for ags, _iso, _short in shipped_land_codes()}
        else:
            return {}
        return {name: f.data.strip() for name, f in fields.items() if (f.data or "").strip()}


@lru_cache(maxsize=1)
def _proposal_form_class() -> type[ProposalForm]:
    # One percentage field per mixable key and one weight per Land; the Länder are data,
    # so the fields are added when the first form is built, not at import.
    fields = {
        SHARE_PREFIX + key.value: StringField(key.value, render_kw={"inputmode": "decimal"})
        for key in MIXABLE_KEYS
    }
    fields.update(
        {
            WEIGHT_PREFIX + ags: StringField(short, render_kw={"inputmode": "decimal"})
            for ags, _iso, short in shipped_land_codes()
        }
    )
    return type("CostKeyProposalForm", (ProposalForm,), fields)


def proposal_form(**kwargs) -> ProposalForm:
    return _proposal_form_class()(**kwargs)
