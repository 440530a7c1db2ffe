import { expect } from 'chai';
import { Scheduler } from '../core/machine/scheduler.js';

describe('Scheduler', () => {
  it('starts at time zero with nothing pending', () => {
    const scheduler = new Scheduler();
    expect(scheduler.nowNs).to.equal(0);
    expect(scheduler.nextDeadlineNs()).to.equal(Infinity);
    expect(scheduler.pending()).to.equal(0);
  });

  it('runs due events in deadline order, each seeing its own deadline', () => {
    const scheduler = new Scheduler();
    const ran: string[] = [];
    const record = (label: string) => (now: number) => {
      expect(scheduler.nowNs).to.equal(now);
      ran.push(`${label}@${now}`);
    };
    scheduler.schedule(300, record('c'), 'c');
    scheduler.schedule(100, record('a'), 'a');
    scheduler.schedule(200, record('b'), 'b');
    scheduler.schedule(400, record('d'), 'd');
    expect(scheduler.nextDeadlineNs()).to.equal(100);
    scheduler.advanceTo(300);
    expect(ran).to.deep.equal(['a@100', 'b@200', 'c@300']);
    expect(scheduler.nowNs).to.equal(300);
    expect(scheduler.nextDeadlineNs()).to.equal(400);
    expect(scheduler.pending()).to.equal(1);
  });

  it('breaks deadline ties by scheduling order', () => {
    const scheduler = new Scheduler();
    const ran: number[] = [];
    for (let i = 0; i < 20; i++) scheduler.schedule(50, () => ran.push(i), `tie ${i}`);
    scheduler.advanceTo(50);
    expect(ran).to.deep.equal([...Array(20).keys()]);
  });

  it('schedules relative to the current virtual time', () => {
    const scheduler = new Scheduler();
    scheduler.advanceTo(1000);
    let firedAt = -1;
    scheduler.scheduleIn(250, (now) => (firedAt = now), 'relative');
    expect(scheduler.nextDeadlineNs()).to.equal(1250);
    scheduler.advanceTo(1249);
    expect(firedAt).to.equal(-1);
    scheduler.advanceTo(5000);
    expect(firedAt).to.equal(1250);
    expect(scheduler.nowNs).to.equal(5000);
  });

  it('never moves the clock backward', () => {
    const scheduler = new Scheduler();
    scheduler.advanceTo(500);
    scheduler.advanceTo(100);
    expect(scheduler.nowNs).to.equal(500);
    let firedAt = -1;
    scheduler.schedule(10, (now) => (firedAt = now), 'late');
    expect(scheduler.nextDeadlineNs()).to.equal(500);
    scheduler.advanceTo(0);
    expect(firedAt).to.equal(500);
  });

  it('cancels pending events and ignores stale handles', () => {
    const scheduler = new Scheduler();
    const ran: string[] = [];
    const a = scheduler.schedule(10, () => ran.push('a'), 'a');
    const b = scheduler.schedule(20, () => ran.push('b'), 'b');
    scheduler.schedule(30, () => ran.push('c'), 'c');
    scheduler.cancel(a);
    expect(scheduler.nextDeadlineNs()).to.equal(20);
    scheduler.cancel(a);
    scheduler.cancel(9999);
    expect(scheduler.pending()).to.equal(2);
    scheduler.advanceTo(20);
    scheduler.cancel(b);
    scheduler.advanceTo(100);
    expect(ran).to.deep.equal(['b', 'c']);
  });

  it('runs events that callbacks schedule when they are already due, but no later ones', () => {
    const scheduler = new Scheduler();
    const ran: string[] = [];
    scheduler.schedule(100, (now) => {
      ran.push(`first@${now}`);
      scheduler.scheduleIn(0, (t) => ran.push(`immediate@${t}`), 'immediate');
      scheduler.schedule(150, (t) => ran.push(`chained@${t}`), 'chained');
      scheduler.schedule(900, (t) => ran.push(`later@${t}`), 'later');
    }, 'first');
    scheduler.schedule(120, (now) => ran.push(`second@${now}`), 'second');
    scheduler.advanceTo(200);
    expect(ran).to.deep.equal(['first@100', 'immediate@100', 'second@120', 'chained@150']);
    expect(scheduler.pendingEvents()).to.deep.equal([{ atNs: 900, label: 'later' }]);
  });

  it('lets a callback cancel another due event', () => {
    const scheduler = new Scheduler();
    const ran: string[] = [];
    let victim = 0;
    scheduler.schedule(10, () => {
      ran.push('killer');
      scheduler.cancel(victim);
    }, 'killer');
    victim = scheduler.schedule(10, () => ran.push('victim'), 'victim');
    scheduler.advanceTo(10);
    expect(ran).to.deep.equal(['killer']);
  });

  it('refuses to advance from inside a callback and recovers afterwards', () => {
    const scheduler = new Scheduler();
    scheduler.schedule(10, () => scheduler.advanceTo(20), 'nested');
    expect(() => scheduler.advanceTo(30)).to.throw(/inside a timer callback/);
    let ran = false;
    scheduler.schedule(40, () => (ran = true), 'after');
    scheduler.advanceTo(40);
    expect(ran).to.equal(true);
  });

  it('rejects deadlines that are not finite', () => {
    const scheduler = new Scheduler();
    expect(() => scheduler.schedule(NaN, () => {}, 'bad')).to.throw(/bad/);
    expect(() => scheduler.scheduleIn(Infinity, () => {}, 'forever')).to.throw(/forever/);
    expect(() => scheduler.advanceTo(NaN)).to.throw(/NaN/);
  });

  it('matches a sorted reference under many random schedules and cancels', () => {
    const scheduler = new Scheduler();
    let seed = 12345;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const expected: { atNs: number; order: number }[] = [];
    const handles: { handle: number; order: number }[] = [];
    const ran: number[] = [];
    for (let order = 0; order < 2000; order++) {
      const atNs = random(500);
      handles.push({ handle: scheduler.schedule(atNs, () => ran.push(order), `e${order}`), order });
      expected.push({ atNs, order });
    }
    const cancelled = new Set<number>();
    for (let i = 0; i < 700; i++) {
      const { handle, order } = handles[random(handles.length)];
      scheduler.cancel(handle);
      cancelled.add(order);
    }
    expect(scheduler.pending()).to.equal(2000 - cancelled.size);
    scheduler.advanceTo(250);
    scheduler.advanceTo(1000);
    const reference = expected
      .filter((event) => !cancelled.has(event.order))
      .sort((a, b) => a.atNs - b.atNs || a.order - b.order)
      .map((event) => event.order);
    expect(ran).to.deep.equal(reference);
    expect(scheduler.pending()).to.equal(0);
  });
});
