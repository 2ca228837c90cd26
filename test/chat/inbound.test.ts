import { describe, expect, it } from 'vitest';
import type { InboundClick } from '../../src/chat/adapter.js';
import { createInbound, type InboundDeps } from '../../src/chat/inbound.js';
import { type ChatMessage, message } from '../../src/chat/message.js';
import { Foreground } from '../../src/process/foreground.js';

const click = (deliveryId: string): InboundClick => ({
  platform: 'discord',
  actor: 'discord:user:123456789',
  channel: 'discord:channel:1',
  action: 'approve',
  target: 'apr_1',
  nonce: 'n',
  deliveryId,
});

describe('chat inbound', () => {
  it('marks a click being answered as foreground work, so agent jobs wait for it (gateway and socket too)', async () => {
    const foreground = new Foreground();
    const answers: ((m: ChatMessage) => void)[] = [];
    const inbound = createInbound({
      foreground,
      approvalClick: () => new Promise<ChatMessage>((resolve) => answers.push(resolve)),
    } as Partial<InboundDeps> as InboundDeps);

    const first = inbound.click(click('d1'));
    // The platform redelivers it while it is being answered: the same answer, counted once.
    const again = inbound.click(click('d1'));
    expect(foreground.busy).toBe(1);
    let jobTookTurn = false;
    const job = foreground.turn(10_000).then(() => {
      jobTookTurn = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(jobTookTurn).toBe(false);

    answers[0]?.(
      message({
        kind: 'reply',
        title: 'Approved',
        body: 'apr_1 approved',
        audience: 'discord:user:123456789',
      }),
    );
    expect((await first).title).toBe('Approved');
    expect(await again).toBe(await first);
    await job;
    expect(jobTookTurn).toBe(true);
    expect(foreground.busy).toBe(0);
    expect(answers).toHaveLength(1);
  });

  it('ends the foreground mark when the answer fails', async () => {
    const foreground = new Foreground();
    const inbound = createInbound({
      foreground,
      approvalClick: () => Promise.reject(new Error('database is locked')),
    } as Partial<InboundDeps> as InboundDeps);
    await expect(inbound.click(click('d2'))).rejects.toThrow('database is locked');
    expect(foreground.busy).toBe(0);
  });
});
