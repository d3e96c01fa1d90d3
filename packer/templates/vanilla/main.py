"""{{title}}: a web page calling Python. `auroraview-pack build` packs it into one executable."""

from auroraview import WebView


def run():
    view = WebView(title="{{title}}", width=900, height=600)

    # The page calls this with `window.auroraview.call("api.greet", { name: "..." })`.
    @view.bind_call("api.greet")
    def greet(name="world"):
        return f"Hello, {name}! (from Python)"

    view.show()


if __name__ == "__main__":
    run()
