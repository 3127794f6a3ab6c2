import assert from 'node:assert/strict';
import { html } from './html.ts';

describe('portal html', () => {
  it('escapes every value but markup made by html itself', () => {
    const reason = `<script>alert("x")</script> & 'quotes'`;
    const out =
      html`<p title="${reason}">${reason}</p>${[html`<b>${'<i>'}</b>`, '<u>']}${undefined}${false}`
        .text;

    assert.equal(
      out,
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;</p><b>&lt;i&gt;</b>&lt;u&gt;',
    );
  });
});
