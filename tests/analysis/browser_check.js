// Injected into a copy of report.html by test_browser.py: checks that every figure decoded and
// is not blank, and appends the result as JSON in a pre element with id browser-check.
window.addEventListener("load", () => {
  const out = [];
  for (const img of document.images) {
    const r = {alt: img.alt, complete: img.complete, width: img.naturalWidth,
               height: img.naturalHeight, inked: -1, colors: -1};
    try {
      const c = document.createElement("canvas");
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const ctx = c.getContext("2d");
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, c.width, c.height);
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let inked = 0; const colors = new Set();
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240) inked++;
        if (colors.size < 1000) colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      }
      r.inked = inked / (d.length / 4); r.colors = colors.size;
    } catch (e) { r.error = String(e); }
    out.push(r);
  }
  const sections = [...document.querySelectorAll("section")].map(
    s => ({id: s.id, text: s.innerText.length, height: s.getBoundingClientRect().height}));
  const toc = [...document.querySelectorAll("nav a")].map(a => a.getAttribute("href"));
  const pre = document.createElement("pre");
  pre.id = "browser-check";
  pre.textContent = JSON.stringify({images: out, sections, toc});
  document.body.appendChild(pre);
});
