def test_home_lists_all_laender_with_links(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('href="/laender/') >= 32  # 16 on the map, 16 in the list
    assert "Brandenburg" in page and "Schleswig-Holstein" in page


def test_editor_logs_in_and_sees_the_map(client, login_as):
    login_as("editor-bb@demo.test")
    page = client.get("/").get_data(as_text=True)
    assert "Mein Konto" in page
    assert "<svg" in page and "Brandenburg" in page
