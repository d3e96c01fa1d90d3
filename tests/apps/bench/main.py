from auroraview import WebView


def run():
    view = WebView(title="bench")
    view.bind_call("api.echo", lambda value: value)
    view.show()
