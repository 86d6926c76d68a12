/**
 * The candlestick chart: the last bars of a symbol and timeframe from `marketData`, extended live by
 * `marketDataUpdated` (1-minute bars). At 1 minute a live bar goes straight onto the chart; at a higher timeframe its
 * bucket (aligned to the Unix epoch, as the gateway's) is asked for again, since a corrected minute must not be added
 * twice. The container carries `data-bars` (how many bars are drawn).
 */
import { CandlestickSeries, ColorType, HistogramSeries, createChart, type IChartApi, type ISeriesApi, type UTCTimestamp } from 'lightweight-charts';
import { BarsDocument, LatestBarDocument, type BarFieldsFragment, type BarsQuery, type Timeframe } from '../generated/graphql';
import { request } from './api';
import { status, timeframeSeconds } from './format';

/** How many bars of history the chart starts with. */
const HISTORY_BARS = 300;
const PAGE = 1000;

interface Candle {
  time: UTCTimestamp;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

const UP = '#26a69a';
const DOWN = '#ef5350';

function candleOf(bar: BarFieldsFragment): Candle {
  return {
    time: Math.floor(Date.parse(bar.timestamp) / 1000) as UTCTimestamp,
    open: Number(bar.open),
    high: Number(bar.high),
    low: Number(bar.low),
    close: Number(bar.close),
    volume: Number(bar.volume),
  };
}

export class ChartPanel {
  private readonly chart: IChartApi;
  private readonly candles: ISeriesApi<'Candlestick'>;
  private readonly volumes: ISeriesApi<'Histogram'>;
  private bars: Candle[] = [];
  private readonly pendingBuckets = new Set<number>();
  private bucketTimer?: ReturnType<typeof setTimeout>;
  private lastClose?: string;

  constructor(
    private readonly container: HTMLElement,
    private readonly statusLine: HTMLElement,
    private readonly symbol: string,
    private readonly timeframe: Timeframe,
    private readonly apiKey: () => string,
    private readonly onLastPrice: (close: string, timestamp: string) => void,
  ) {
    this.chart = createChart(container, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: '#10161d' }, textColor: '#c4ccd6', fontSize: 12 },
      grid: { vertLines: { color: '#1c252f' }, horzLines: { color: '#1c252f' } },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: '#2a3542' },
      rightPriceScale: { borderColor: '#2a3542' },
      crosshair: { mode: 0 },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, { upColor: UP, downColor: DOWN, wickUpColor: UP, wickDownColor: DOWN, borderVisible: false });
    this.volumes = this.chart.addSeries(HistogramSeries, { priceFormat: { type: 'volume' }, priceScaleId: 'volume', lastValueVisible: false, priceLineVisible: false });
    this.chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.render();
  }

  get count(): number {
    return this.bars.length;
  }

  /** The newest bar drawn (for the console and the browser test). */
  get last(): Readonly<Candle> | undefined {
    return this.bars.at(-1);
  }

  /** The last HISTORY_BARS bars up to the symbol's latest bar. */
  async load(): Promise<void> {
    status(this.statusLine, 'loading bars…');
    try {
      const { latestBar } = await request(LatestBarDocument, { symbol: this.symbol }, this.apiKey());
      if (!latestBar) {
        this.bars = [];
        this.render();
        status(this.statusLine, `no bars of ${this.symbol} yet: they appear as they are ingested`);
        return;
      }
      const step = timeframeSeconds(this.timeframe);
      const last = Math.floor(Date.parse(latestBar.timestamp) / 1000 / step) * step;
      const from = new Date((last - (HISTORY_BARS - 1) * step) * 1000).toISOString();
      this.bars = (await this.fetch(from)).map(candleOf);
      this.render(true);
      status(this.statusLine, '');
    } catch (error) {
      status(this.statusLine, `bars: ${(error as Error).message}`, 'error');
    }
  }

  /** After a reconnect: the bars since the last one drawn (bar updates have no afterSequence). */
  async catchUp(): Promise<void> {
    const last = this.bars.at(-1);
    if (!last) return this.load();
    try {
      for (const bar of await this.fetch(new Date(last.time * 1000).toISOString())) this.upsert(candleOf(bar));
      this.render();
    } catch (error) {
      status(this.statusLine, `bars: ${(error as Error).message}`, 'error');
    }
  }

  /** A live 1-minute bar. */
  onBar(bar: BarFieldsFragment): void {
    if (bar.symbol !== this.symbol) return;
    if (bar.timestamp >= (this.lastTimestamp ?? '')) this.notePrice(bar.close, bar.timestamp);
    if (this.timeframe === 'M1') {
      const candle = candleOf(bar);
      const last = this.bars.at(-1);
      if (!last || candle.time >= last.time) {
        this.upsert(candle);
        this.candles.update(candle);
        this.volumes.update(this.volumeOf(candle));
        this.render();
      } else {
        this.upsert(candle);
        this.render(false, true);
      }
      status(this.statusLine, '');
      return;
    }
    const step = timeframeSeconds(this.timeframe);
    this.pendingBuckets.add(Math.floor(Date.parse(bar.timestamp) / 1000 / step) * step);
    this.bucketTimer ??= setTimeout(() => void this.refreshBuckets(), 200);
  }

  private lastTimestamp?: string;

  private notePrice(close: string, timestamp: string): void {
    this.lastTimestamp = timestamp;
    if (close !== this.lastClose) {
      this.lastClose = close;
      this.onLastPrice(close, timestamp);
    }
  }

  private async refreshBuckets(): Promise<void> {
    this.bucketTimer = undefined;
    const buckets = [...this.pendingBuckets].sort((a, b) => a - b);
    this.pendingBuckets.clear();
    if (!buckets.length) return;
    const step = timeframeSeconds(this.timeframe);
    try {
      const bars = await this.fetch(new Date(buckets[0] * 1000).toISOString(), new Date((buckets.at(-1)! + step) * 1000).toISOString());
      for (const bar of bars) this.upsert(candleOf(bar));
      this.render(false, true);
      status(this.statusLine, '');
    } catch (error) {
      status(this.statusLine, `bars: ${(error as Error).message}`, 'error');
    }
  }

  private async fetch(from: string, to?: string): Promise<BarFieldsFragment[]> {
    const bars: BarFieldsFragment[] = [];
    let after: string | null = null;
    // At most a few pages: HISTORY_BARS fits in one.
    for (let page = 0; page < 5; page++) {
      const { marketData }: BarsQuery = await request(BarsDocument, { symbol: this.symbol, timeframe: this.timeframe, from, to: to ?? null, first: PAGE, after }, this.apiKey());
      bars.push(...marketData.edges.map((e) => e.node));
      if (!marketData.pageInfo.hasNextPage || !marketData.pageInfo.endCursor) break;
      after = marketData.pageInfo.endCursor;
    }
    const last = bars.at(-1);
    if (last && last.timestamp >= (this.lastTimestamp ?? '')) this.notePrice(last.close, last.timestamp);
    return bars;
  }

  private upsert(candle: Candle): void {
    const bars = this.bars;
    if (!bars.length || candle.time > bars[bars.length - 1].time) {
      bars.push(candle);
      return;
    }
    // Mostly the last bar or one near it: search from the end.
    let i = bars.length - 1;
    while (i >= 0 && bars[i].time > candle.time) i--;
    if (i >= 0 && bars[i].time === candle.time) bars[i] = candle;
    else bars.splice(i + 1, 0, candle);
  }

  private volumeOf(candle: Candle) {
    return { time: candle.time, value: candle.volume, color: candle.close >= candle.open ? 'rgba(38,166,154,0.45)' : 'rgba(239,83,80,0.45)' };
  }

  /** `all`: set every bar again (after a load or an older bar changed); `fit`: show them all. */
  private render(fit = false, all = fit): void {
    if (all || fit) {
      this.candles.setData(this.bars);
      this.volumes.setData(this.bars.map((c) => this.volumeOf(c)));
    }
    if (fit) this.chart.timeScale().fitContent();
    this.container.dataset.bars = String(this.bars.length);
  }
}
