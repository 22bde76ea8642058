"""Flask-WTF forms for the HTML side: field rules only; services enforce the rest."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from fitstore.services.auth import is_valid_email


class Email:
    """E-mail syntax check that accepts the internal domains of public administration."""

    def __init__(self, message):
        self.message = message

    def __call__(self, form, field):
        if field.data and not is_valid_email(field.data):
            raise ValidationError(self.message)


class LoginForm(FlaskForm):
    email = EmailField(
        _l("E-Mail-Adresse"),
        validators=[DataRequired(_l("Bitte geben Sie Ihre E-Mail-Adresse an.")), Length(max=254)],
    )
    password = PasswordField(
        _l("Passwort"),
        validators=[DataRequired(_l("Bitte geben Sie Ihr Passwort an.")), Length(max=128)],
    )
    next = HiddenField()


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        _l("Aktuelles Passwort"),
        validators=[DataRequired(_l("Bitte geben Sie Ihr aktuelles Passwort an."))],
    )
    new_password = PasswordField(
        _l("Neues Passwort"),
        validators=[DataRequired(_l("Bitte geben Sie ein neues Passwort an."))],
        description=_l(
            "12 bis 128 Zeichen. Ein Satz aus mehreren Wörtern ist leicht zu merken und sicher."
        ),
    )


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name des Tokens"),
        validators=[DataRequired(_l("Bitte geben Sie einen Namen an.")), Length(max=80)],
        description=_l("Wofür Sie den Token verwenden, z. B. „Fachverfahren XAusländer“."),
    )


class EmailNotificationsForm(FlaskForm):
    """The user's own choice: notices also by e-mail (unchecked: inbox only)."""

    email_notifications = BooleanField(
        _l("Benachrichtigungen auch per E-Mail erhalten"),
        description=_l(
            "Im Postfach des FIT-Store finden Sie jede Benachrichtigung, auch wenn Sie"
            " E-Mails abschalten."
        ),
    )


class ConfirmForm(FlaskForm):
    """A POST button with nothing but its CSRF token."""


class OrganisationForm(FlaskForm):
    kind = SelectField(_l("Art"), choices=[])
    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("Bitte geben Sie einen Namen an.")), Length(max=200)],
    )
    short_name = StringField(
        _l("Kürzel"),
        validators=[DataRequired(_l("Bitte geben Sie ein Kürzel an.")), Length(max=40)],
    )
    land_ags = SelectField(_l("Land"), choices=[], validate_choice=False)


class UserForm(FlaskForm):
    email = EmailField(
        _l("E-Mail-Adresse"),
        validators=[
            DataRequired(_l("Bitte geben Sie eine E-Mail-Adresse an.")),
            Email(_l("Bitte geben Sie eine gültige E-Mail-Adresse an.")),
            Length(max=254),
        ],
    )
    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("Bitte geben Sie einen Namen an.")), Length(max=120)],
    )
    organisation_id = SelectField(_l("Organisation"), coerce=int, choices=[], validate_choice=False)
    role = SelectField(_l("Rolle"), choices=[])
    password = PasswordField(
        _l("Erstes Passwort"),
        validators=[DataRequired(_l("Bitte geben Sie ein Passwort an."))],
        description=_l("12 bis 128 Zeichen; die Person ändert es nach der ersten Anmeldung."),
    )


class FeedbackForm(FlaskForm):
    message = TextAreaField(
        _l("Beschreibung der Barriere"),
        validators=[
            DataRequired(_l("Bitte beschreiben Sie die Barriere.")),
            Length(
                min=10,
                max=5000,
                message=_l("Bitte beschreiben Sie die Barriere in 10 bis 5000 Zeichen."),
            ),
        ],
    )
    page_url = StringField(
        _l("Betroffene Seite (optional)"), validators=[Optional(), Length(max=500)]
    )
    name = StringField(_l("Ihr Name (optional)"), validators=[Optional(), Length(max=120)])
    email = EmailField(
        _l("Ihre E-Mail-Adresse für eine Antwort (optional)"),
        validators=[
            Optional(),
            Email(_l("Bitte geben Sie eine gültige E-Mail-Adresse an.")),
            Length(max=254),
        ],
    )


class LanguageForm(FlaskForm):
    lang = HiddenField()
    next = HiddenField()
