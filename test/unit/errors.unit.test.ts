import { classifyError } from '../../src/errors.js';

describe('classifyError', () => {
  it.each([
    [{ code: '40001' }, 'retryable'],
    [{ code: '40P01' }, 'retryable'],
    [{ code: '08006' }, 'retryable'],
    [{ code: 'ECONNREFUSED' }, 'retryable'],
    [{ code: '23505' }, 'bad_input'],
    [{ code: '22P02' }, 'bad_input'],
    [{ code: '28P01' }, 'fatal'],
    [{ code: '42501' }, 'fatal'],
    [{ code: '42P01' }, 'fatal'],
    [new Error('Connection terminated unexpectedly'), 'retryable'],
    [new Error('something else'), 'fatal'],
  ])('%j is %s', (error, kind) => {
    expect(classifyError(error)).toBe(kind);
  });

  it("retries Citus's report of a worker node connection lost under it (seen after a node restart)", () => {
    const lost = {
      code: 'XX000',
      message: 'SSL SYSCALL error: EOF detected',
      where: 'while executing command on 127.0.0.1:9702',
    };
    expect(classifyError(lost)).toBe('retryable');
    // The same code for anything else is not a connection problem: it stays fatal.
    expect(classifyError({ ...lost, message: 'could not find shard 102008' })).toBe('fatal');
    expect(classifyError({ ...lost, where: undefined })).toBe('fatal');
  });

  it("retries Citus's COPY to a shard on a worker node that went away (an INSERT … SELECT through the coordinator)", () => {
    expect(
      classifyError({ code: '58030', message: 'failed to COPY to shard 102075 on 127.0.0.1:9702' }),
    ).toBe('retryable');
    // A local disk's I/O error is not that.
    expect(classifyError({ code: '58030', message: 'could not read block 7 in file "base/1/2"' })).toBe(
      'fatal',
    );
  });
});
