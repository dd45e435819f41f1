// The fault scenarios run real processes under load for tens of seconds each.
import { jest } from '@jest/globals';

jest.setTimeout(240_000);
