using System.Diagnostics;
using System.Text.Json.Serialization;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Models;
using static TorchSharp.torch;

namespace SlmStudio.Core.Inference;

/// <summary>Prefill and decode speed of one engine on one model: prompt tokens/s, new tokens/s, time to first token.</summary>
public sealed record GenerationSpeed(string Engine, int PromptTokens, int NewTokens, double PrefillTokensPerSecond, double DecodeTokensPerSecond, double TimeToFirstTokenMs);

/// <summary>
/// New tokens per second, all requests together, when <c>Requests</c> generations run at once: each on its own side by
/// side, as one fixed batch, and as served (continuous batching, a batch per lane).
/// </summary>
public sealed record ConcurrentGenerationSpeed(
    [property: JsonPropertyName("requests")] int Requests,
    [property: JsonPropertyName("separateTokensPerSecond")] double SeparateTokensPerSecond,
    [property: JsonPropertyName("batchedTokensPerSecond")] double BatchedTokensPerSecond,
    [property: JsonPropertyName("servedTokensPerSecond")] double ServedTokensPerSecond);

/// <summary>
/// One row of <c>slm bench generate --json</c>'s <c>results</c> array. The names are a contract for scripts that compare
/// runs: engine is <see cref="GenerationBenchmark.OnnxRuntimeEngine"/> or <see cref="GenerationBenchmark.TorchSharpEngine"/>,
/// precision fp32, int8 or int4, sizeBytes the model file(s) that engine reads. The loss change versus fp32 (percent)
/// and the text it was measured on are given for quantised ONNX models.
/// </summary>
public sealed record GenerationBenchResult(
    [property: JsonPropertyName("engine")] string Engine,
    [property: JsonPropertyName("precision")] string Precision,
    [property: JsonPropertyName("decodeTokensPerSecond")] double DecodeTokensPerSecond,
    [property: JsonPropertyName("prefillTokensPerSecond")] double PrefillTokensPerSecond,
    [property: JsonPropertyName("firstTokenMs")] double FirstTokenMs,
    [property: JsonPropertyName("sizeBytes")] long SizeBytes,
    [property: JsonPropertyName("lossChangePercent")] double? LossChangePercent = null,
    [property: JsonPropertyName("lossMeasuredOn")] string? LossMeasuredOn = null)
{
    public static GenerationBenchResult From(GenerationSpeed speed, string engine, string precision, long sizeBytes, QuantizationReport? quality = null) =>
        new(engine, precision, speed.DecodeTokensPerSecond, speed.PrefillTokensPerSecond, speed.TimeToFirstTokenMs, sizeBytes,
            quality?.LossIncreasePercent, quality?.EvaluationText);
}

/// <summary>
/// Measures generation with a KV cache, greedy, on the same weights and prompt: ONNX Runtime through the decoder and
/// sampler that <see cref="TextGenerator"/> uses (token ids in and out, so tokenization is not timed on either side),
/// and TorchSharp eager with its own KV cache (the training model's Forward, argmax). Each is warmed up once, then the
/// median of <c>repeats</c> runs is reported.
/// </summary>
public static class GenerationBenchmark
{
    public const string OnnxRuntimeEngine = "onnxruntime";
    public const string TorchSharpEngine = "torchsharp";

    public static GenerationSpeed MeasureOnnx(OnnxArtifact artifact, int[] prompt, int newTokens, int repeats = 3)
    {
        var runs = new List<(double Ttft, double Prefill, double Decode)>();
        for (int r = 0; r <= repeats; r++)
        {
            var cache = artifact.Decoder.EmptyCache(1);
            try
            {
                var clock = Stopwatch.StartNew();
                var ids = prompt.Select(i => (long)i).ToArray();
                var positions = Enumerable.Range(0, ids.Length).Select(i => (long)i).ToArray();
                int length = 0;
                double ttft = 0;
                var logits = new float[artifact.Config.VocabSize];
                var seen = new HashSet<int>();
                var greedy = GenerationSettings.Greedy();
                var random = new Random(0);
                for (int step = 0; step < newTokens; step++)
                {
                    using var output = artifact.Decoder.Run(ids, Ones(length + ids.Length), positions, 1, ids.Length, cache);
                    output.LogitsAt(0, ids.Length - 1).CopyTo(logits);
                    var (next, _) = Sampler.Choose(logits, seen, greedy, random);
                    length += ids.Length;
                    cache.Dispose();
                    cache = output.TakeCache();
                    if (step == 0) ttft = clock.Elapsed.TotalMilliseconds;
                    ids = [next];
                    positions = [length];
                }
                var total = clock.Elapsed.TotalMilliseconds;
                if (r > 0) runs.Add((ttft, prompt.Length / (ttft / 1000), (newTokens - 1) / ((total - ttft) / 1000)));
            }
            finally
            {
                cache.Dispose();
            }
        }
        return Summarize("ONNX Runtime", prompt.Length, newTokens, runs);
    }

    public static GenerationSpeed MeasureTorch(LlamaForCausalLM model, int[] prompt, int newTokens, int repeats = 3)
    {
        model.eval();
        var device = model.parameters().First().device;
        var runs = new List<(double Ttft, double Prefill, double Decode)>();
        using var _ = no_grad();
        for (int r = 0; r <= repeats; r++)
        {
            using var cache = new KvCache(model.Config.NumLayers);
            var clock = Stopwatch.StartNew();
            var next = prompt.Select(i => (long)i).ToArray();
            double ttft = 0;
            for (int step = 0; step < newTokens; step++)
            {
                using var scope = NewDisposeScope();
                var logits = model.Forward(tensor(next, [1, next.Length], device: device), cache)[0, -1];
                var id = logits.argmax().item<long>();
                if (step == 0) ttft = clock.Elapsed.TotalMilliseconds;
                next = [id];
            }
            var total = clock.Elapsed.TotalMilliseconds;
            if (r > 0) runs.Add((ttft, prompt.Length / (ttft / 1000), (newTokens - 1) / ((total - ttft) / 1000)));
        }
        return Summarize("TorchSharp eager", prompt.Length, newTokens, runs);
    }

    /// <summary>
    /// New tokens per second over <paramref name="requests"/> greedy generations of the same prompt that start together,
    /// served three ways on one shared session: each on its own, side by side on worker threads (how the portal ran
    /// concurrent requests before continuous batching); all as one fixed batch (one decoder call a step on one core); and
    /// as the portal and <see cref="TextGenerator.GenerateAsync"/> serve them now (<see cref="GenerationBatcher"/>: a
    /// batch per lane). Prefill is included: it is what a user waits through. Medians of <paramref name="repeats"/>
    /// rounds after a warm-up.
    /// </summary>
    public static ConcurrentGenerationSpeed MeasureConcurrent(OnnxArtifact artifact, int[] prompt, int newTokens, int requests, int repeats = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(requests, 1);
        var settings = GenerationSettings.Greedy(newTokens);
        static int RunToEnd(GenerationRun run)
        {
            using (run)
            {
                while (!run.Done) run.Step();
                return run.GeneratedTokens;
            }
        }
        var separate = new List<double>();
        var batched = new List<double>();
        var served = new List<double>();
        var batcher = GenerationBatcher.For(artifact);
        async Task<int> Serve()
        {
            int count = 0;
            await foreach (var _ in batcher.GenerateAsync(prompt, settings).ConfigureAwait(false)) count++;
            return count;
        }
        for (int r = 0; r <= repeats; r++)
        {
            var clock = Stopwatch.StartNew();
            var counts = Task.WhenAll(Enumerable.Range(0, requests).Select(_ => Task.Run(() => RunToEnd(new GenerationRun(artifact, [prompt], settings))))).GetAwaiter().GetResult();
            var separateRate = counts.Sum() / clock.Elapsed.TotalSeconds;
            clock.Restart();
            var batchedRate = RunToEnd(new GenerationRun(artifact, Enumerable.Repeat(prompt, requests).ToList(), settings)) / clock.Elapsed.TotalSeconds;
            clock.Restart();
            // Without stop sequences every new token streams as one piece, so pieces count tokens.
            var servedCounts = Task.WhenAll(Enumerable.Range(0, requests).Select(_ => Serve())).GetAwaiter().GetResult();
            var servedRate = servedCounts.Sum() / clock.Elapsed.TotalSeconds;
            if (r == 0) continue; // warm-up
            separate.Add(separateRate);
            batched.Add(batchedRate);
            served.Add(servedRate);
        }
        return new ConcurrentGenerationSpeed(requests, Median(separate), Median(batched), Median(served));
    }

    private static long[] Ones(int n)
    {
        var a = new long[n];
        Array.Fill(a, 1L);
        return a;
    }

    /// <summary>Per-figure medians of several measurements of one engine.</summary>
    public static GenerationSpeed Median(IReadOnlyList<GenerationSpeed> runs) =>
        Summarize(runs[0].Engine, runs[0].PromptTokens, runs[0].NewTokens, runs.Select(r => (r.TimeToFirstTokenMs, r.PrefillTokensPerSecond, r.DecodeTokensPerSecond)).ToList());

    private static GenerationSpeed Summarize(string engine, int promptTokens, int newTokens, List<(double Ttft, double Prefill, double Decode)> runs) =>
        new GenerationSpeed(engine, promptTokens, newTokens, Median(runs.Select(r => r.Prefill)), Median(runs.Select(r => r.Decode)), Median(runs.Select(r => r.Ttft)));

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
