"""Signs in to Plutus in headless Chromium through an OpenID provider's own form, then
screenshots the customer's dashboard.

Usage: sign_in_browser.py CHROMIUM PLUTUS_BASE_URL SUBJECT SCREENSHOT_PATH

Drives Chromium over the DevTools protocol (the driver in narrow_viewport.py): opens
<base>/auth/login, which sends the browser to the provider; types SUBJECT into the
provider's form and submits it; waits until the browser is back on the dashboard; saves a
PNG screenshot. Prints one JSON line: the final URL, the page's title, the signed-in line,
and which forms the page offers.
"""

import base64
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from narrow_viewport import DevTools  # noqa: E402

FILL = """(function (subject) {
  var input = document.querySelector('input[name="sub"]');
  if (!input) { return "no form"; }
  input.value = subject;
  input.form.submit();
  return "submitted";
})(%s)"""

STATE = """JSON.stringify({
  url: location.href,
  title: document.title,
  person: (document.getElementById("person") || {}).textContent || null,
  forms: Array.from(document.querySelectorAll("form[method=post]")).map(function (f) { return f.getAttribute("action"); })
})"""


def evaluate(tools, session, expression):
    result = tools.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
    return result["result"].get("value")


def main():
    chromium, base, subject, screenshot = sys.argv[1:5]
    tools = DevTools(chromium, tempfile.mkdtemp(prefix="plutus-sign-in-"))
    try:
        target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tools.call("Emulation.setDeviceMetricsOverride",
                   {"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": False}, session)
        tools.call("Page.enable", {}, session)
        tools.call("Page.navigate", {"url": base + "/auth/login"}, session)
        tools.wait_for("Page.loadEventFired", session)
        filled = evaluate(tools, session, FILL % json.dumps(subject))
        if filled != "submitted":
            raise RuntimeError("the provider's page has no sign-in form: " + str(evaluate(tools, session, STATE)))
        deadline = time.monotonic() + 20
        state = {}
        while time.monotonic() < deadline:
            state = json.loads(evaluate(tools, session, STATE))
            if state["url"].startswith(base) and state["person"]:
                break
            time.sleep(0.2)
        shot = tools.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        with open(screenshot, "wb") as out:
            out.write(base64.b64decode(shot["data"]))
        print(json.dumps(state), flush=True)
    finally:
        tools.close()


if __name__ == "__main__":
    main()
