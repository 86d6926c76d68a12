/** The suite shares the fan-out bench's lifecycle: progress output, the fatal condition, and whether the run is stopping. */
export * from '../fanout/lifecycle';
