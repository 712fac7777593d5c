import Mustache

/// The dashboard's mustache templates. Every `{{value}}` is HTML-escaped by mustache; no
/// template uses the unescaped `{{{…}}}` form, so a value from a user can never become
/// markup. The only inline style and script carry the response's nonce.
enum Templates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in [
            ("style", style), ("head", head), ("dashboard", dashboard), ("pricing", pricing), ("statement", statement),
            ("login", login), ("key-created", keyCreated),
        ] {
            do {
                try library.register(text, named: name)
            } catch {
                preconditionFailure("template \(name) does not parse: \(error)")
            }
        }
        return library
    }()

    static func render(_ name: String, _ context: Any) -> String {
        guard let html = library.render(context, withTemplate: name) else {
            preconditionFailure("no template named \(name)")
        }
        return html
    }

    static let style = """
        :root{color-scheme:dark}
        body{margin:0;background:#0c0814;color:#e8e4f0;font:15px/1.5 system-ui,-apple-system,sans-serif}
        header{display:flex;gap:.8rem 1.2rem;align-items:center;flex-wrap:wrap;padding:.8rem 1.5rem;border-bottom:1px solid #2c2440;background:#110c1c}
        header form{display:flex;gap:.4rem;align-items:center;flex-wrap:wrap;margin:0}
        .logo{color:#f5b942;font-weight:700;font-size:1.2rem;text-decoration:none}
        .badge{border:1px solid #3a3052;border-radius:999px;padding:.05rem .6rem;font-size:.8rem;color:#a59cb8}
        .badge.demo{color:#f5b942;border-color:#f5b942}
        main{max-width:76rem;margin:0 auto;padding:1rem 1.5rem 3rem}
        h1{font-size:1.4rem;margin:.5rem 0}
        h2{font-size:1rem;margin:0 0 .6rem;color:#cfc6e0;text-transform:uppercase;letter-spacing:.05em}
        .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(15rem,100%),1fr));gap:1rem;margin:1rem 0}
        .card,section{background:#140f21;border:1px solid #2c2440;border-radius:10px;padding:1rem}
        section{margin:1rem 0;overflow-x:auto}
        .label{color:#a59cb8;font-size:.85rem}
        .num{font-variant-numeric:tabular-nums;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
        .big{font-size:1.7rem;color:#f5b942;margin:.2rem 0}
        .ok{color:#7fd1b9}.warn{color:#f08a6c}.muted{color:#a59cb8}
        table{width:100%;border-collapse:collapse;font-size:.92rem}
        th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #221a33;vertical-align:middle}
        th{color:#a59cb8;font-weight:500}
        .r{text-align:right}
        .grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(34rem,100%),1fr));gap:0 1rem}
        a{color:#7fd1b9}
        button,input,select{font:inherit;background:#1d1630;color:#e8e4f0;border:1px solid #3a3052;border-radius:6px;padding:.25rem .6rem}
        button{cursor:pointer}button:hover{border-color:#f5b942}
        form.inline{display:inline;margin:0}
        meter{width:9rem;height:.8rem}
        .hbar rect{fill:#f5b942}
        .chart{width:100%;height:auto}
        .chart .bar{fill:#f5b942}.chart .bar:hover{fill:#ffd57a}
        .chart .line{fill:none;stroke:#7fd1b9;stroke-width:2}.chart .projection{fill:none;stroke:#f08a6c;stroke-width:2;stroke-dasharray:6 5}
        .chart .topup{fill:#7fd1b9;stroke:#0c0814;stroke-width:2}
        .chart .grid{stroke:#2c2440}.chart text{fill:#a59cb8;font-size:11px;font-family:ui-monospace,monospace}
        .alerts li{color:#f08a6c}
        .secret{background:#1d1630;padding:.6rem;border-radius:6px;word-break:break-all}
        footer{color:#6f6686;font-size:.8rem;text-align:center;padding:1rem}
        pre{white-space:pre-wrap;word-break:break-all}
        .copy{margin-left:.4rem}
        @media (max-width:40rem){
        header,main{padding-left:.6rem;padding-right:.6rem}
        .card,section{padding:.7rem}
        .big{font-size:1.4rem}
        table{font-size:.85rem}th,td{padding:.25rem .3rem}
        .opt{display:none}
        .prices{font-size:.7rem}.prices th,.prices td{padding:.2rem .15rem}.prices .model{word-break:break-all}
        .prices th:first-child,.prices td:first-child{writing-mode:vertical-rl;transform:rotate(180deg);padding:.1rem 0}
        .chart text{font-size:18px}
        input[type=date]{max-width:9.5rem}
        }
        """

    static let head = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Plutus</title><style nonce="{{nonce}}">{{> style}}</style></head>
        """

    static let dashboard = """
        {{> head}}<body>
        <header><a class="logo" href="/">◆ Plutus</a>
        <form method="get" action="/">
        <label class="label">Organization <select name="org">{{#orgs}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/orgs}}</select></label>
        <label class="label">From <input type="date" name="from" value="{{from}}"></label>
        <label class="label">To <input type="date" name="to" value="{{to}}"></label>
        {{#workspace}}<input type="hidden" name="workspace" value="{{id}}">{{/workspace}}
        <button type="submit">Show</button></form>
        <span class="badge">{{plan}} plan</span>{{#demo}}<span class="badge demo">DEMO DATA</span>{{/demo}}
        <a href="/pricing">Pricing</a> <a href="{{statementURL}}">Monthly statement</a> <a href="{{membersURL}}">Members</a>{{#auditURL}} <a href="{{auditURL}}">Audit log</a>{{/auditURL}}
        {{#person}}<span class="label" id="person">{{email}} · {{role}}</span>
        <form class="inline" method="post" action="/auth/logout"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit">Sign out</button></form>
        <form class="inline" method="post" action="/auth/logout"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="everywhere" value="1"><button type="submit">Sign out everywhere</button></form>{{/person}}
        </header>
        <main>
        <h1>{{orgName}}{{#workspace}} › {{name}} <a class="label" href="{{allWorkspacesURL}}">all workspaces</a>{{/workspace}}</h1>
        {{#hasAlerts}}<ul class="alerts">{{#bannerAlerts}}<li>▲ {{message}}</li>{{/bannerAlerts}}</ul>{{/hasAlerts}}
        <div class="cards">
        <div class="card"><div class="label">{{balanceLabel}}</div><div class="big num" id="balance">{{balance}}</div>
        {{#held}}<div class="muted num" id="held">{{.}}</div>{{/held}}<div class="{{runwayClass}}">{{runway}}</div></div>
        <div class="card"><div class="label">Month to date · {{month}}</div><div class="big num">{{mtdSpend}}</div>
        <div class="muted num">{{mtdCalls}} · {{mtdTokens}} tokens</div></div>
        <div class="card"><div class="label">Selected range · {{from}} → {{to}}</div><div class="big num">{{rangeSpend}}</div>
        <div class="muted num">{{rangeCalls}} · {{rangeTokens}} tokens</div></div>
        <div class="card"><div class="label">Burn · trailing 7 days</div><div class="big num">{{burnPerDay}}/day</div>
        <div class="muted num">{{burn7}} over 7 days</div></div>
        </div>
        <section><h2>Daily spend</h2>
        <svg class="chart" viewBox="0 0 {{chart.width}} {{chart.height}}" role="img" aria-label="Daily spend, {{from}} to {{to}}">
        {{#chart.gridLines}}<line class="grid" x1="{{x1}}" x2="{{x2}}" y1="{{y}}" y2="{{y}}"/><text x="0" y="{{labelY}}">{{label}}</text>{{/chart.gridLines}}
        {{#chart.bars}}<rect class="bar" x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}"><title>{{day}}: {{cost}} · {{events}} calls</title></rect>{{/chart.bars}}
        {{#chart.dayLabels}}<text x="{{x}}" y="{{y}}" text-anchor="middle">{{text}}</text>{{/chart.dayLabels}}
        </svg></section>
        <section><h2>Balance{{#workspace}} · the organization's{{/workspace}}</h2>
        <svg class="chart balance" viewBox="0 0 {{balanceChart.width}} {{balanceChart.height}}" role="img" aria-label="Credit balance, {{from}} to {{to}}, with top-ups and the projected runway">
        {{#balanceChart.gridLines}}<line class="grid" x1="{{x1}}" x2="{{x2}}" y1="{{y}}" y2="{{y}}"/><text x="0" y="{{labelY}}">{{label}}</text>{{/balanceChart.gridLines}}
        <polyline class="line" points="{{balanceChart.line}}"/>
        {{#balanceChart.projection}}<polyline class="projection" points="{{balanceChart.projection}}"/>{{/balanceChart.projection}}
        {{#balanceChart.topUps}}<circle class="topup" cx="{{x}}" cy="{{y}}" r="5"><title>{{label}}</title></circle>{{/balanceChart.topUps}}
        {{#balanceChart.dayLabels}}<text x="{{x}}" y="{{y}}" text-anchor="middle">{{text}}</text>{{/balanceChart.dayLabels}}
        </svg>
        <p class="label"><span class="ok">●</span> top-ups{{#balanceChart.projectionNote}} · <span class="warn">- -</span> {{balanceChart.projectionNote}}{{/balanceChart.projectionNote}}</p></section>
        <div class="grid2">
        {{#breakdowns}}<section><h2>By {{title}}</h2><table><thead><tr><th>{{title}}</th><th class="opt"></th><th class="r">Cost</th><th class="r">Calls</th><th class="r opt">Tokens</th></tr></thead><tbody>
        {{#rows}}<tr><td>{{#url}}<a href="{{url}}">{{label}}</a>{{/url}}{{^url}}{{label}}{{/url}}</td><td class="opt"><svg class="hbar" width="100" height="8" viewBox="0 0 100 8"><rect width="{{barWidth}}" height="8" rx="2"/></svg></td><td class="r num">{{cost}}</td><td class="r num">{{events}}</td><td class="r num opt">{{tokens}}</td></tr>{{/rows}}
        {{^rows}}<tr><td colspan="5" class="muted">No usage in this range.</td></tr>{{/rows}}
        </tbody></table></section>{{/breakdowns}}
        </div>
        <section><h2>Budgets</h2><table><thead><tr><th>Layer</th><th class="opt">Used</th><th class="r">Spent</th><th class="r">Held</th><th class="r">Limit</th><th class="opt">Resets (UTC)</th><th></th></tr></thead><tbody>
        {{#budgets}}<tr><td>{{#url}}<a href="{{url}}">{{layer}}</a>{{/url}}{{^url}}{{layer}}{{/url}} <span class="muted">{{mode}}</span></td><td class="opt"><meter min="0" max="100" low="70" high="90" optimum="0" value="{{percent}}">{{percent}}%</meter> <span class="{{state}} num">{{percent}}%</span></td><td class="r num">{{spent}}</td><td class="r num">{{held}}</td><td class="r num">{{limit}}</td><td class="opt num">{{resets}}</td><td>{{#manageBudgets}}<form class="inline" method="post" action="/budgets/disable"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="org" value="{{orgID}}"><input type="hidden" name="budget" value="{{id}}"><button type="submit">Disable</button></form>{{/manageBudgets}}</td></tr>{{/budgets}}
        {{^budgets}}<tr><td colspan="7" class="muted">No budgets: set one with <code>plutus budget create</code> or <code>POST /v1/admin/budgets</code>.</td></tr>{{/budgets}}
        </tbody></table>
        {{#manageBudgets}}<form method="post" action="/budgets/create"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="org" value="{{orgID}}">
        <label class="label">New budget on <select name="scope"><option value="org">the organization</option><option value="workspace">a workspace</option><option value="key">an API key</option><option value="task">a task</option><option value="run">a run</option></select></label>
        <label class="label">named <input name="scope_id" placeholder="workspace, key id, task or run"></label>
        <label class="label">USD <input name="limit_usd" type="number" step="0.01" min="0.01" required></label>
        <select name="period" aria-label="Period"><option value="month">a month</option><option value="day">a day</option><option value="total">in total</option></select>
        <select name="mode" aria-label="Mode"><option value="hard">hard (refuses)</option><option value="soft">soft (alerts)</option></select>
        <button type="submit">Add budget</button></form>{{/manageBudgets}}</section>
        <section><h2>Live feed{{#workspace}} · {{name}}{{/workspace}}</h2><table><thead><tr><th class="opt">Time (UTC)</th><th>Provider · model</th><th class="opt">Task</th><th class="opt">Workspace</th><th class="r">Cost</th></tr></thead>
        <tbody id="feed" data-org="{{orgID}}" data-workspace="{{feedWorkspace}}">{{#feed}}<tr><td class="num opt">{{time}}</td><td>{{provider}} · {{model}}</td><td class="opt">{{task}}</td><td class="opt">{{workspace}}</td><td class="r num">{{cost}}{{#estimated}} <span class="muted">est</span>{{/estimated}}{{#unpriced}} <span class="warn" title="model not in the price catalog: charged at the provider's fallback rate">unpriced</span>{{/unpriced}}</td></tr>{{/feed}}
        {{^feed}}<tr><td colspan="5" class="muted">No events yet.</td></tr>{{/feed}}</tbody></table>
        <p class="label">Refreshes every {{feedRefreshSeconds}} s while this page is open.</p></section>
        <section><h2>Alerts</h2>{{#hasAlerts}}<ul class="alerts">{{#alerts}}<li>{{time}} · {{message}}</li>{{/alerts}}</ul>{{/hasAlerts}}{{^alerts}}<p class="muted">No alerts.</p>{{/alerts}}</section>
        <section><h2>Ledger</h2><table><thead><tr><th class="opt">Time (UTC)</th><th>Kind</th><th class="opt">Reference</th><th class="opt">Memo</th><th class="r">Amount</th><th class="r">Balance after</th></tr></thead><tbody>
        {{#ledger}}<tr><td class="num opt">{{time}}</td><td>{{kind}}</td><td class="num opt">{{reference}}</td><td class="opt">{{memo}}</td><td class="r num {{amountClass}}">{{amount}}</td><td class="r num">{{balanceAfter}}</td></tr>{{/ledger}}
        {{^ledger}}<tr><td colspan="6" class="muted">No entries.</td></tr>{{/ledger}}
        </tbody></table>{{#ledgerOlderURL}}<p><a href="{{ledgerOlderURL}}">Older entries →</a></p>{{/ledgerOlderURL}}{{#ledgerNewestURL}}<p><a href="{{ledgerNewestURL}}">← Newest entries</a></p>{{/ledgerNewestURL}}</section>
        <div class="grid2">
        <section><h2>API keys</h2><table><thead><tr><th>Name</th><th class="opt">Prefix</th><th class="opt">Last used</th><th></th></tr></thead><tbody>
        {{#keys}}<tr><td>{{name}}</td><td class="num opt">{{prefix}}…</td><td class="num opt">{{lastUsed}}</td><td>{{#revoked}}<span class="muted">revoked</span>{{/revoked}}{{^revoked}}{{#manageKeys}}<form class="inline" method="post" action="/keys/revoke"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="org" value="{{orgID}}"><input type="hidden" name="key" value="{{id}}"><button type="submit">Revoke</button></form>{{/manageKeys}}{{/revoked}}</td></tr>{{/keys}}
        {{^keys}}<tr><td colspan="4" class="muted">No keys yet.</td></tr>{{/keys}}
        </tbody></table>
        {{#manageKeys}}<form method="post" action="/keys/create"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="org" value="{{orgID}}">
        <label class="label">New key name <input name="name" maxlength="{{nameBytesMax}}" placeholder="ci-agent"></label> <button type="submit">Create key</button></form>{{/manageKeys}}</section>
        <section><h2>Billing</h2>{{#stripe}}{{#topUp}}<form method="post" action="/billing/checkout/credit"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="org" value="{{orgID}}">
        <label class="label">Buy prepaid credit, USD <input name="amount" type="number" step="0.01" min="{{topUpMin}}" max="{{topUpMax}}" value="{{topUpDefault}}"></label> <button type="submit">Top up →</button></form>{{/topUp}}
        {{#proPrice}}<form method="post" action="/billing/checkout/pro"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="org" value="{{orgID}}"><button type="submit">Upgrade to Pro</button></form>{{/proPrice}}
        {{#portal}}<form method="post" action="/billing/portal"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="org" value="{{orgID}}"><button type="submit">Manage billing</button></form>{{/portal}}
        <p class="label">Stripe: {{stripeMode}} · <a href="/pricing">Compare plans</a></p>{{/stripe}}
        {{^stripe}}<p class="muted">Top-ups and plans activate once STRIPE_SECRET_KEY is set on this server. <a href="/pricing">Compare plans</a></p>{{/stripe}}</section>
        </div>
        </main>
        <footer>Plutus v{{version}} · self-hosted · prices {{catalogVersion}} as of {{catalogAsOf}} · generated {{generated}} UTC</footer>
        <script nonce="{{nonce}}">
        (function () {
          var feed = document.getElementById("feed");
          if (!feed || !window.fetch) { return; }
          function money(text) {
            var value = Number(text), size = Math.abs(value);
            return (value < 0 ? "-$" : "$") + (size !== 0 && size < 1 ? size.toPrecision(4) : size.toFixed(2));
          }
          function cell(row, text, className) {
            var td = document.createElement("td");
            td.textContent = text;
            if (className) { td.className = className; }
            row.appendChild(td);
          }
          function refresh() {
            fetch("/api/events?limit={{feedRows}}&org=" + encodeURIComponent(feed.dataset.org)
                + (feed.dataset.workspace ? "&workspace=" + encodeURIComponent(feed.dataset.workspace) : ""), {credentials: "same-origin"})
              .then(function (response) { return response.ok ? response.json() : null; })
              .then(function (page) {
                if (!page || !page.items || page.items.length === 0) { return; }
                var rows = document.createDocumentFragment();
                page.items.forEach(function (event) {
                  var row = document.createElement("tr");
                  cell(row, event.time.replace("T", " ").slice(0, 19), "num opt");
                  cell(row, event.provider + " · " + (event.model || "-"));
                  cell(row, event.task_type, "opt");
                  cell(row, event.workspace || "(none)", "opt");
                  cell(row, money(event.cost_usd) + (event.cost_kind === "estimated" ? " est" : "")
                    + (event.cost_kind === "unpriced" ? " unpriced" : ""), "r num");
                  rows.appendChild(row);
                });
                feed.replaceChildren(rows);
              })
              .catch(function () {});
          }
          setInterval(refresh, {{feedRefreshSeconds}} * 1000);
        })();
        </script>
        </body></html>
        """

    static let pricing = """
        {{> head}}<body>
        <header><a class="logo" href="/">◆ Plutus</a><span class="label">Plans and prices</span></header>
        <main>
        <div class="cards">{{#plans}}<div class="card"><h2>{{name}}</h2><div class="big num">{{price}}</div>
        <ul><li>{{tokens}}</li><li>{{workspaces}}</li></ul></div>{{/plans}}</div>
        <section><h2>Provider prices · USD per million tokens</h2>
        <p class="label">Catalog {{catalogVersion}}, list prices as of {{asOf}}. Events without an exact cost are estimated at these rates.</p>
        <table class="prices"><thead><tr><th>Provider</th><th>Model</th><th class="r">Input</th><th class="r">Output</th><th class="r">Cache read</th><th class="r">Cache write</th><th class="r">Reasoning</th></tr></thead><tbody>
        {{#prices}}<tr><td>{{provider}}</td><td class="model">{{model}}</td><td class="r num">{{input}}</td><td class="r num">{{output}}</td><td class="r num">{{cacheRead}}</td><td class="r num">{{cacheWrite}}</td><td class="r num">{{reasoning}}</td></tr>{{/prices}}
        </tbody></table></section>
        <p class="muted">Every plan is self-hostable. Prepaid credit is drawn down by metered usage; top-ups go through Stripe.</p>
        </main></body></html>
        """

    /// A printable light page; the same markup becomes the PDF.
    static let statement = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{orgName}} · statement {{month}}</title>
        <style nonce="{{nonce}}">
        body{font:13px/1.45 system-ui,-apple-system,sans-serif;color:#1a1523;background:#fff;max-width:52rem;margin:2rem auto;padding:0 1rem}
        h1{font-size:1.4rem;margin:0}h2{font-size:1rem;margin:1.4rem 0 .4rem;border-bottom:2px solid #1a1523}
        table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid #ddd}
        .r{text-align:right}.num{font-variant-numeric:tabular-nums}.muted{color:#666}
        tr.total td{font-weight:700;border-top:2px solid #1a1523}
        @page{size:A4;margin:16mm}@media print{body{margin:0}}
        @media (max-width:40rem){body{margin:1rem auto;font-size:12px}th,td{padding:.2rem .25rem}td:first-child{word-break:break-all}}
        </style></head><body>
        <h1>◆ Plutus · monthly statement</h1>
        <p>{{orgName}} · {{plan}} plan · {{month}}<br><span class="muted">Period {{periodStart}} to {{periodEnd}} (UTC, end exclusive) · generated {{generated}} UTC · prices {{catalogVersion}} as of {{catalogAsOf}}</span></p>
        <h2>Credit</h2><table><tbody>
        <tr><td>Opening balance</td><td class="r num">{{opening}}</td></tr>
        {{#movements}}<tr><td>{{label}} ({{entries}})</td><td class="r num">{{net}}</td></tr>{{/movements}}
        <tr class="total"><td>Closing balance</td><td class="r num">{{closing}}</td></tr>
        <tr><td class="muted">{{heldLabel}}</td><td class="r num muted">{{held}}</td></tr>
        </tbody></table>
        <h2>Usage</h2><p class="num">{{usageCost}} · {{usageCalls}} · {{usageTokens}} tokens</p>
        {{#breakdowns}}<h2>By {{title}}</h2><table><thead><tr><th>{{title}}</th><th class="r">Cost</th><th class="r">Calls</th><th class="r">Tokens</th></tr></thead><tbody>
        {{#rows}}<tr><td>{{label}}</td><td class="r num">{{cost}}</td><td class="r num">{{events}}</td><td class="r num">{{tokens}}</td></tr>{{/rows}}
        {{^rows}}<tr><td colspan="4" class="muted">No usage.</td></tr>{{/rows}}</tbody></table>{{/breakdowns}}
        <p class="muted">{{placement}} Costs marked estimated were priced from the catalog above.</p>
        </body></html>
        """

    static let login = """
        {{> head}}<body><header><a class="logo" href="/">◆ Plutus</a></header><main>
        <section><h2>Sign in</h2>{{#oidc}}<p><a class="button" href="/auth/login">Sign in with your organization's account →</a></p>{{/oidc}}
        {{#token}}{{#failed}}<p class="warn">That token is not right.</p>{{/failed}}
        <form method="post" action="/login"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label class="label">Admin token <input type="password" name="token" autocomplete="current-password" required></label>
        <button type="submit">Sign in</button></form>
        <p class="muted">The operator signs in with this server's PLUTUS_ADMIN_TOKEN.</p>{{/token}}</section>
        </main></body></html>
        """

    static let keyCreated = """
        {{> head}}<body><header><a class="logo" href="/">◆ Plutus</a></header><main>
        <section><h2>API key created</h2><p>Copy the secret now: it is shown once and only its hash is kept.</p>
        <p class="secret num"><span id="secret">{{secret}}</span><button type="button" class="copy" id="copy">Copy</button></p>
        <p class="label">Name {{name}} · prefix {{prefix}}</p>
        <h2>Send a call with it</h2>
        <pre class="secret num">curl -s -H "Authorization: Bearer {{secret}}" \\
          -d '{"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 1000, "output_tokens": 200}' \\
          {{origin}}/v1/usage</pre>
        <p class="label">Or set PLUTUS_REMOTE_URL={{origin}} and PLUTUS_API_KEY to this secret for the plutus-agent SDK.</p>
        <p><a href="{{backURL}}">Back to the dashboard</a></p></section>
        </main>
        <script nonce="{{nonce}}">
        (function () {
          var button = document.getElementById("copy");
          if (!button || !navigator.clipboard) { if (button) { button.hidden = true; } return; }
          button.addEventListener("click", function () {
            navigator.clipboard.writeText(document.getElementById("secret").textContent).then(function () { button.textContent = "Copied ✓"; });
          });
        })();
        </script></body></html>
        """
}
