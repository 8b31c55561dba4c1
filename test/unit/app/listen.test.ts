// The --bind helpers every command shares: how an address is printed, the words for listen
// failures, and the master's probe before it forks (real sockets on 127.0.0.1).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { bindHost, hostPort, listenFailure, listenOn, probeBind } from '../../../src/app/listen.js';

const errno = (code: string | undefined, message: string): NodeJS.ErrnoException => Object.assign(new Error(message), { code });

describe('bindHost', () => {
  it('listens on localhost as 127.0.0.1 and leaves every other host as given', () => {
    assert.equal(bindHost('localhost'), '127.0.0.1');
    assert.equal(bindHost('LOCALHOST'), '127.0.0.1');
    for (const h of ['', '::1', '0.0.0.0', 'map.example', 'localhost.example']) assert.equal(bindHost(h), h);
  });
});

describe('hostPort', () => {
  it('brackets IPv6 hosts and prints every interface as *', () => {
    assert.equal(hostPort('127.0.0.1', 8080), '127.0.0.1:8080');
    assert.equal(hostPort('localhost', 80), 'localhost:80');
    assert.equal(hostPort('::1', 8080), '[::1]:8080');
    assert.equal(hostPort('', 8080), '*:8080');
  });
});

describe('listenFailure', () => {
  it('says what the usual codes mean, keeping the code, and falls back to the message', () => {
    const bind = { host: '127.0.0.1', port: 80 };
    assert.equal(listenFailure(bind, errno('EACCES', 'listen EACCES')), 'cannot listen on 127.0.0.1:80: permission denied; ports below 1024 need privileges (EACCES)');
    assert.equal(listenFailure({ host: 'nohost.invalid', port: 8080 }, errno('ENOTFOUND', 'getaddrinfo ENOTFOUND')), 'cannot listen on nohost.invalid:8080: host name not found (ENOTFOUND)');
    assert.equal(listenFailure(bind, errno('EMFILE', 'listen EMFILE: too many open files')), 'cannot listen on 127.0.0.1:80: listen EMFILE: too many open files');
    assert.equal(listenFailure({ host: '', port: 9464 }, errno('EADDRINUSE', 'x'), '--metrics-bind'), 'cannot listen on *:9464 for --metrics-bind: the address is already in use (EADDRINUSE)');
  });
});

describe('probeBind', () => {
  it('rejects with EADDRINUSE for a port in use and leaves a free port free', async () => {
    const held = createServer().listen(0, '127.0.0.1');
    await once(held, 'listening');
    const port = (held.address() as AddressInfo).port;
    await assert.rejects(probeBind({ host: '127.0.0.1', port }), { code: 'EADDRINUSE' });
    held.close();
    await once(held, 'close');
    assert.equal(await probeBind({ host: '127.0.0.1', port }), port);
    // The probe closed its socket: the port can be taken right after.
    const again = createServer();
    await listenOn(again, { host: '127.0.0.1', port });
    assert.equal((again.address() as AddressInfo).port, port);
    again.close();
  });

  it('port 0: resolves to the free port picked, free again after; an address not of this host is refused', async () => {
    const port = await probeBind({ host: '127.0.0.1', port: 0 });
    assert.ok(port > 0);
    const again = createServer();
    await listenOn(again, { host: '127.0.0.1', port });
    again.close();
    await assert.rejects(probeBind({ host: '192.0.2.1', port: 0 }), { code: 'EADDRNOTAVAIL' });
  });
});
