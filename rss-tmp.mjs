const what = process.argv[2];
if (what === 'sharp') { const s = (await import('sharp')).default; s.cache(false); }
if (what === 'sharpuse') { const s = (await import('sharp')).default; s.cache(false); s.concurrency(1); await s({create:{width:256,height:256,channels:3,background:'#f00'}}).png().toBuffer(); }
if (what === 'app') { const m = await import('/work/main/dist/app/create-app.js'); }
const http = await import('node:http');
global.gc?.();
const st = (await import('node:fs')).readFileSync('/proc/self/status','utf8');
console.log(what, st.match(/VmRSS:\s+(\d+)/)[1]/1024|0, 'MiB', st.match(/VmHWM:\s+(\d+)/)[1]/1024|0);
