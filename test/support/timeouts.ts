// Jest's testTimeout is a global option; per-project timeouts are set here, from the project's setup.
import { jest } from '@jest/globals';

jest.setTimeout(60_000);
