/**
 * Errors the model returns the way a system call would: an errno-style code plus one line naming the
 * field that is wrong and what would be right. State is unchanged when one is thrown.
 */
export type Errno = 'EINVAL' | 'ENOMEM' | 'EEXIST' | 'EACCES' | 'EPERM' | 'EBADF' | 'ENODEV' | 'EFAULT' | 'EOPNOTSUPP' | 'ENOENT' | 'EBUSY';

export class KernelError extends Error {
  readonly code: Errno;
  readonly field: string;
  constructor(code: Errno, field: string, message: string) {
    super(`${code}: ${field}: ${message}`);
    this.name = 'KernelError';
    this.code = code;
    this.field = field;
  }
}

export function fail(code: Errno, field: string, message: string): never {
  throw new KernelError(code, field, message);
}

/** Thrown in a spinning CPU when another one failed: the run is being abandoned. */
export class SmpAborted extends Error {}
