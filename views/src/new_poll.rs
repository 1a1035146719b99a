//! `/polls/new`: the poll form, blank or with messages next to the fields.

use maud::{Markup, html};

use crate::model::NewPollForm;
use crate::paths;

/// Page title.
pub const TITLE: &str = "Create a poll";

fn field_error(id: &str, message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.field-error id=(id) { (message) }
        }
    }
}

fn options(form: &NewPollForm) -> Markup {
    let limits = form.limits;
    let can_remove = form.options.len() > limits.min_options;
    let can_add = form.options.len() < limits.max_options;
    html! {
        fieldset.options aria-describedby=[form.errors.options.as_ref().map(|_| "options-error")] {
            legend { "Options " span.hint { "(" (limits.min_options) "–" (limits.max_options) ")" } }
            (field_error("options-error", form.errors.options.as_deref()))
            @for (i, text) in form.options.iter().enumerate() {
                @let id = format!("option-{i}");
                @let error_id = format!("option-{i}-error");
                @let error = form.errors.for_option(i);
                div.option-row.invalid[error.is_some()] {
                    label for=(id) { "Option " (i + 1) }
                    div.option-input {
                        input #(id) type="text" name="option" value=(text) maxlength=(limits.option_chars)
                            autofocus[form.focus_option == Some(i)]
                            aria-invalid=[error.map(|_| "true")]
                            aria-describedby=[error.map(|_| error_id.as_str())];
                        @if can_remove {
                            button.remove type="submit" name="intent" value={ "remove:" (i) }
                                formnovalidate aria-label={ "Remove option " (i + 1) } { "Remove" }
                        }
                    }
                    (field_error(&error_id, error))
                }
            }
            @if can_add {
                button.add type="submit" name="intent" value="add" formnovalidate { "+ Add option" }
            }
        }
    }
}

/// The form.
pub fn fragment(form: &NewPollForm) -> Markup {
    let errors = &form.errors;
    html! {
        h1 { (TITLE) }
        @if !errors.is_empty() {
            p.form-summary role="alert" { "Please fix the marked fields." }
        }
        @if let Some(question) = &form.sharing_key_of {
            p.notice { "This poll will have the same manage link as “" (question) "”: present them one after the other, and close and reveal each from the presenter. Keep the same theme so → reaches it." }
        }
        form.poll-form method="post" action=(form.action) {
            // First in the form, so pressing Enter in a field creates the poll rather than
            // pressing the first "Remove" button.
            button.visually-hidden type="submit" name="intent" value="create" tabindex="-1" aria-hidden="true" { "Create" }
            div.field.invalid[errors.question.is_some()] {
                label for="question" { "Question" }
                textarea #question name="question" rows="3" maxlength=(form.limits.question_chars)
                    aria-invalid=[errors.question.as_ref().map(|_| "true")]
                    aria-describedby=[errors.question.as_ref().map(|_| "question-error")] { (form.question) }
                (field_error("question-error", errors.question.as_deref()))
            }
            div.field.invalid[errors.theme.is_some()] {
                label for="theme" { "Theme" }
                select #theme name="theme"
                    aria-invalid=[errors.theme.as_ref().map(|_| "true")]
                    aria-describedby=[errors.theme.as_ref().map(|_| "theme-error")] {
                    option value="" selected[form.theme.is_empty()] { "Choose a theme…" }
                    @for theme in &form.themes {
                        option value=(theme.slug) selected[theme.slug == form.theme] { (theme.icon) " " (theme.name) }
                    }
                }
                (field_error("theme-error", errors.theme.as_deref()))
            }
            (options(form))
            div.field.invalid[errors.max_choices.is_some()] {
                label for="max-choices" { "Choices per voter" }
                p.hint #max-choices-hint { "1 for a single answer; more lets each voter tick several options." }
                input #max-choices type="number" name="max_choices" min="1" max=(form.options.len().max(1))
                    value=(if form.max_choices.is_empty() { "1" } else { form.max_choices.as_str() })
                    aria-invalid=[errors.max_choices.as_ref().map(|_| "true")]
                    aria-describedby={ "max-choices-hint" @if errors.max_choices.is_some() { " max-choices-error" } };
                (field_error("max-choices-error", errors.max_choices.as_deref()))
            }
            div.actions {
                button.primary type="submit" name="intent" value="create" { "Create" }
                a href=(paths::Home) { "Cancel" }
            }
        }
    }
}
