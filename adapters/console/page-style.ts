/** The console page's stylesheet: calm, readable, light and dark, visible keyboard focus. */
export const PAGE_STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f5f6f8; --card: #ffffff; --fg: #1f2430; --muted: #5d6576; --line: #dde1e7;
  --accent: #2f63a8; --accent-fg: #ffffff; --info: #5b82b8; --warning: #b7791f; --critical: #c0392b;
  --ok: #2f855a; --soft: #eef1f5;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #15181d; --card: #1d2128; --fg: #e3e6eb; --muted: #9aa2b1; --line: #2e343e;
    --accent: #7aa7e6; --accent-fg: #10131a; --info: #7aa7e6; --warning: #e0a84a; --critical: #ef6f61;
    --ok: #6cc08b; --soft: #242a33;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; }
.top { position: sticky; top: 0; z-index: 2; display: flex; gap: 1rem; align-items: center;
  justify-content: space-between; padding: .6rem 1.25rem; background: var(--card);
  border-bottom: 1px solid var(--line); }
.top h1 { margin: 0; font-size: 1.05rem; font-weight: 600; letter-spacing: .01em; }
.top h1 span { color: var(--muted); font-weight: 400; }
.conn { margin: 0; font-size: .85rem; color: var(--muted); }
.conn::before { content: ""; display: inline-block; width: .55rem; height: .55rem; margin-right: .4rem;
  border-radius: 50%; background: var(--muted); vertical-align: .05rem; }
.conn.live::before { background: var(--ok); }
.conn.polling::before { background: var(--warning); }
.conn.down::before { background: var(--critical); }
main { max-width: 58rem; margin: 0 auto; padding: 1rem 1.25rem 4rem; }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .9rem 1rem; }
label { font-weight: 600; font-size: .9rem; }
.row { display: flex; gap: .5rem; margin-top: .3rem; }
input[type=text], select { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line);
  border-radius: 6px; padding: .4rem .6rem; }
.row input { flex: 1; min-width: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
button { font: inherit; font-size: .92rem; color: var(--fg); background: var(--card); border: 1px solid var(--line);
  border-radius: 6px; padding: .35rem .85rem; cursor: pointer; }
button:hover { background: var(--soft); }
button:disabled { opacity: .55; cursor: default; }
button.primary, .row button { background: var(--accent); border-color: var(--accent); color: var(--accent-fg); }
button.danger { color: var(--critical); border-color: var(--critical); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible {
  outline: 2px solid var(--accent); outline-offset: 2px; }
.hint { margin: .4rem 0 0; color: var(--muted); font-size: .85rem; }
.replies { margin-top: .6rem; }
details.thread { margin: -.2rem 0 .6rem 1.5rem; }
details.thread > summary { cursor: pointer; color: var(--muted); font-size: .9rem; padding: .2rem 0; }
details.thread > ol { list-style: none; margin: .3rem 0 0; padding: 0 0 0 .8rem; border-left: 3px solid var(--line); }
.reply { border-top: 1px dashed var(--line); padding-top: .6rem; margin-top: .6rem; }
.echo { margin: 0 0 .3rem; color: var(--muted); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .85rem; }
.feed-head { display: flex; align-items: center; gap: .6rem; margin: 1.5rem 0 .25rem; }
.feed-head h2 { margin: 0 auto 0 0; font-size: 1rem; }
.feed { list-style: none; margin: 0; padding: 0; }
.msg { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--line);
  border-radius: 8px; padding: .75rem 1rem; margin: .75rem 0; }
.reply .msg, .msg.bare { border: 0; padding: 0; margin: 0; background: none; }
.sev-info { border-left-color: var(--info); }
.sev-warning { border-left-color: var(--warning); }
.sev-critical { border-left-color: var(--critical); }
.msg.changed { animation: changed 1.6s ease-out; }
@keyframes changed { from { background: var(--soft); } }
.msg-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: .2rem .5rem; }
.msg-title { margin: 0; font-size: 1rem; font-weight: 600; flex: 1 1 18rem; overflow-wrap: anywhere; }
.badge, .sev { font-size: .72rem; text-transform: uppercase; letter-spacing: .05em; padding: .05rem .45rem;
  border-radius: 999px; background: var(--soft); color: var(--muted); }
.sev-warning .sev { color: var(--warning); }
.sev-critical .sev { color: var(--critical); }
.meta { font-size: .8rem; color: var(--muted); }
.meta a { color: inherit; }
.body { white-space: pre-wrap; overflow-wrap: anywhere; margin: .5rem 0; }
.kind-digest .body { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .82rem;
  white-space: pre; overflow-x: auto; overflow-wrap: normal; }
figure.chart { margin: .6rem 0; }
figure.chart img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px;
  background: #ffffff; }
.body.folded { max-height: 12em; overflow: hidden;
  mask-image: linear-gradient(to bottom, #000 70%, transparent); }
button.more { border: 0; background: none; padding: 0; color: var(--accent); font-size: .88rem; }
button.more:hover { text-decoration: underline; background: none; }
.mentions { margin: .35rem 0; font-size: .9rem; color: var(--muted); }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .9rem; margin: .5rem 0;
  font-size: .92rem; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
ul.links { margin: .4rem 0; padding-left: 1.1rem; font-size: .92rem; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .6rem; }
.reason-form { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin-top: .6rem; }
.reason-form input { flex: 1 1 14rem; }
.status { margin: .5rem 0 0; font-size: .88rem; color: var(--muted); white-space: pre-wrap; }
.status:empty { display: none; }
.status.error { color: var(--critical); }
.notice { max-width: 36rem; margin: 4rem auto; padding: 1.25rem 1.5rem; background: var(--card);
  border: 1px solid var(--line); border-radius: 8px; }
.notice h1 { font-size: 1.1rem; margin-top: 0; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;
