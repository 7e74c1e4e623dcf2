import { describe, expect, it } from 'vitest';
import { useTestApi } from 'dream-agent/testing';

// dream-agent/testing imports no test framework: its contract suites use the functions given here.
useTestApi({ describe, it, expect });
