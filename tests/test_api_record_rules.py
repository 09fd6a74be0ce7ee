"""The API applies the model's record rules: visible names, http(s) links, lengths, the city key,
and who sees companies taken out of search (``searchable``)."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

from companies.models import MAX_DESCRIPTION, Company
from tests.factories import make_company

pytestmark = pytest.mark.django_db

URL = "/api/companies/"

INVISIBLE_NAMES = {
    "zero_width_space": "\u200b",
    "zero_width_joiners": "\u200c\u200d",
    "word_joiner": "\u2060",
    "byte_order_mark": "\ufeff",
    "soft_hyphens": "\u00ad\u00ad",
    "hangul_filler": "\u3164",
    "halfwidth_hangul_filler": "\uffa0",
    "braille_blank": "\u2800",
    "combining_grapheme_joiner": "\u034f",
    "lone_combining_accent": "\u0301",
    "bidi_marks": "\u200e\u200f\u202e",
    "mixed_with_spaces": " \u200b \u3164 ",
}


def send(client, method, url, body, token):
    return getattr(client, method)(
        url, body, content_type="application/json", headers={"Authorization": f"Token {token}"}
    )


def token_for(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return Token.objects.create(user=user).key


# Invisible names -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", INVISIBLE_NAMES.values(), ids=INVISIBLE_NAMES.keys())
def test_an_invisible_name_is_400_on_every_write(client, editor_token, name):
    acme = make_company("Acme")
    before = Company.objects.values().get(pk=acme.pk)
    responses = {
        "post": send(
            client, "post", URL, {"name": name, "link": "https://x.example"}, editor_token
        ),
        "put": send(
            client, "put", f"{URL}{acme.pk}/", {"name": name, "link": acme.link}, editor_token
        ),
        "patch": send(client, "patch", f"{URL}{acme.pk}/", {"name": name}, editor_token),
    }
    for method, response in responses.items():
        assert response.status_code == 400, method
        assert response.json()["name"], method
    assert Company.objects.count() == 1
    assert Company.objects.values().get(pk=acme.pk) == before


def test_the_invisible_name_message_is_the_models(client, editor_token):
    response = send(
        client, "post", URL, {"name": "\u3164", "link": "https://x.example"}, editor_token
    )
    assert response.json() == {"name": ["Enter a name with at least one visible character."]}


@pytest.mark.parametrize("name", ["Ä", "\u00adAcme", "李", "🚀", "a\u0301"])
def test_a_name_with_something_visible_is_taken(client, editor_token, name):
    response = send(client, "post", URL, {"name": name, "link": "https://x.example"}, editor_token)
    assert response.status_code == 201


# The model's other rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("link", "ftp://acme.example"),
        ("link", "ftps://acme.example"),
        ("image_url", "ftp://acme.example/logo.png"),
        ("link", "mailto:hello@acme.example"),
        ("link", "https://acme .example"),
    ],
)
def test_links_are_http_or_https_as_the_model_says(client, editor_token, field, value):
    body = {"name": "Acme", "link": "https://acme.example", field: value}
    response = send(client, "post", URL, body, editor_token)
    assert response.status_code == 400
    assert response.json() == {field: ["Enter a valid URL."]}  # once, not per validator
    assert not Company.objects.exists()


def test_the_description_limit_is_the_models(client, editor_token):
    body = {"name": "Acme", "link": "https://acme.example"}
    exact = send(client, "post", URL, {**body, "description": "d" * MAX_DESCRIPTION}, editor_token)
    assert exact.status_code == 201
    over = send(
        client,
        "post",
        URL,
        {
            "name": "Beta",
            "link": "https://beta.example",
            "description": "d" * (MAX_DESCRIPTION + 1),
        },
        editor_token,
    )
    assert over.status_code == 400 and str(MAX_DESCRIPTION) in over.json()["description"][0]


# The city filter -------------------------------------------------------------------------------


@pytest.fixture
def evora():
    return make_company("Adega", city="Évora")


@pytest.mark.parametrize(
    "city",
    ["évora", "ÉVORA", "E\u0301vora", "e\u0301VORA", "  évora  ", "Évora"],
    ids=["lower", "upper", "decomposed", "decomposed_upper", "spaces", "same"],
)
def test_the_city_filter_compares_text_keys(client, evora, city):
    make_company("Other", city="Evora")  # no accent: another city
    body = client.get(URL, {"city": city}).json()
    assert [c["id"] for c in body["results"]] == [evora.pk]


def test_full_width_city_names_equal_ascii_ones(client):
    tokyo = make_company("Sushi Co", city="Tokyo")
    stored_wide = make_company("Wide Co", city="ＴＯＫＹＯ")
    for city in ("tokyo", "ＴＯＫＹＯ", "ｔｏｋｙｏ"):
        body = client.get(URL, {"city": city}).json()
        assert sorted(c["id"] for c in body["results"]) == [tokyo.pk, stored_wide.pk], city


def test_the_city_filter_takes_several_cities_and_ignores_empty_ones(client, evora):
    lisbon = make_company("Lisboa Labs", city="Lisbon")
    make_company("Porto Co", city="Porto")
    body = client.get(f"{URL}?city=LISBON&city=e%CC%81vora&city=&city=%20").json()
    assert sorted(c["id"] for c in body["results"]) == sorted([evora.pk, lisbon.pk])


# searchable ------------------------------------------------------------------------------------


@pytest.fixture
def hidden():
    return make_company("Hidden", searchable=False)


@pytest.fixture
def shown():
    return make_company("Shown")


def test_anonymous_readers_never_see_unsearchable_companies(client, hidden, shown):
    listed = client.get(URL).json()
    assert [c["id"] for c in listed["results"]] == [shown.pk] and listed["count"] == 1
    assert client.get(URL, {"searchable": "false"}).json()["count"] == 0
    assert client.get(f"{URL}{hidden.pk}/").status_code == 404
    assert client.get(f"{URL}{hidden.pk}/similar/").status_code == 404


def test_users_without_change_permission_do_not_see_them_either(
    client, django_user_model, hidden, shown
):
    token = token_for(django_user_model, "adder", "add_company", "delete_company")
    headers = {"Authorization": f"Token {token}"}
    assert client.get(URL, headers=headers).json()["count"] == 1
    assert client.get(f"{URL}{hidden.pk}/", headers=headers).status_code == 404
    response = client.delete(f"{URL}{hidden.pk}/", headers=headers)
    assert response.status_code == 404 and Company.objects.filter(pk=hidden.pk).exists()


def test_editors_see_them_and_filter_on_them(client, editor_token, hidden, shown):
    headers = {"Authorization": f"Token {editor_token}"}
    assert client.get(URL, headers=headers).json()["count"] == 2
    only_hidden = client.get(URL, {"searchable": "false"}, headers=headers).json()
    assert [(c["id"], c["searchable"]) for c in only_hidden["results"]] == [(hidden.pk, False)]
    only_shown = client.get(URL, {"searchable": "true"}, headers=headers).json()
    assert [c["id"] for c in only_shown["results"]] == [shown.pk]
    read = client.get(f"{URL}{hidden.pk}/", headers=headers)
    assert read.status_code == 200 and read.json()["searchable"] is False


@pytest.mark.parametrize("value", ["no", "0", "False", "", "maybe"])
def test_the_searchable_filter_takes_true_or_false_only(client, value):
    response = client.get(URL, {"searchable": value})
    assert response.status_code == 400 and "searchable" in response.json()


def test_searchable_is_editable_and_defaults_to_true(client, editor_token):
    created = send(client, "post", URL, {"name": "Acme", "link": "https://a.example"}, editor_token)
    assert created.json()["searchable"] is True
    url = f"{URL}{created.json()['id']}/"
    patched = send(client, "patch", url, {"searchable": False}, editor_token)
    assert patched.status_code == 200 and patched.json()["searchable"] is False
    assert Company.objects.get().searchable is False
    assert client.get(url).status_code == 404  # anonymous


@pytest.mark.parametrize("value", [0, 1, "false", "yes", None, []])
def test_searchable_takes_json_booleans_only(client, editor_token, shown, value):
    response = send(client, "patch", f"{URL}{shown.pk}/", {"searchable": value}, editor_token)
    assert response.status_code == 400 and "searchable" in response.json()
    assert Company.objects.get(pk=shown.pk).searchable is True
