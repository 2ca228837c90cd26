/**
 * Units that follow a number as a separate token (`1.16 KB`, `12 ms`, `<1 sec`, `429 MB/s`): the
 * number and its unit are one value (mask.ts), and a number followed by one is a quantity, never a
 * header's epoch (header.ts).
 */

/** Units of size, alone (`1.16 KB`) and per second (`95.3 kB/s`, `12 MB/sec`, `1.2 Gbit/s`). */
const SIZE_UNITS = 'B KB MB GB TB PB KiB MiB GiB TiB PiB kB Kb Mb Gb kb mb gb bit kbit Kbit Mbit Gbit'.split(
  ' ',
);

/** Units that follow a number as a separate token: `1.16 KB`, `12 ms`, `<1 sec`, `429 MB/s`. */
const UNITS: ReadonlySet<string> = new Set([
  ...SIZE_UNITS,
  ...SIZE_UNITS.flatMap((unit) => [`${unit}/s`, `${unit}/sec`]),
  ...(
    'byte bytes K M G k bps kbps Kbps Mbps Gbps ms msec msecs us usec usecs µs ns nsec nsecs s sec secs ' +
    'second seconds millisecond milliseconds microsecond microseconds nanosecond nanoseconds min mins minute ' +
    'minutes h hr hrs hour hours d day days week weeks jiffies %'
  ).split(' '),
]);

export function isUnit(token: string): boolean {
  return UNITS.has(token);
}
