from fitstore import create_app

app = create_app()
