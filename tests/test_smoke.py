def test_register_returns_the_seed_body(api):
    response = api.register("alice", email="alice@example.com", password="secret123")
    assert response.status_code == 201
    assert response.json == {"message": "User created successfully", "user_id": 1}
