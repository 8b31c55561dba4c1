const mods = process.argv.slice(2);
for (const m of mods) await import(m);
const v8 = await import('node:v8');
const show = (tag) => { const st = (require_fs()).readFileSync('/proc/self/status','utf8'); const h = process.memoryUsage(); console.log(tag, mods.join(','), 'rss', st.match(/VmRSS:\s+(\d+)/)[1]/1024|0, 'heapUsed', h.heapUsed>>20, 'heapTotal', h.heapTotal>>20, 'ext', h.external>>20, 'ab', h.arrayBuffers>>20); };
import fs from 'node:fs'; function require_fs(){return fs;}
show('before-gc');
global.gc?.(); await new Promise(r=>setTimeout(r,100)); global.gc?.();
show('after-gc ');
