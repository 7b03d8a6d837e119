using System.Diagnostics;
using SlmStudio.Core.Inference;

namespace SlmStudio.Core.Classification;

/// <summary>How fast an exported classifier sorts texts at one batch size: the median of several timed passes.</summary>
public sealed record ClassificationSpeedResult(int BatchSize, int Texts, double TextsPerSecond, double MillisecondsPerBatch, double MillisecondsPerText, IReadOnlyList<double> PassTextsPerSecond);

/// <summary>
/// Measures texts per second through ONNX Runtime (<see cref="OnnxClassifier"/>), end to end as a program would call it:
/// tokenizing, padding each batch to its longest text, running the graph and reading the probabilities.
/// </summary>
public static class ClassificationSpeed
{
    /// <summary>
    /// Short customer messages of varied length, used when no texts are given. Speed depends on the number of tokens per
    /// text, so these stand for what "Sort and route" is meant for: tickets, e-mails' first lines, chat messages.
    /// </summary>
    public static readonly IReadOnlyList<string> SampleTexts =
    [
        "where is my order",
        "Hi, I was charged twice for the same order last week, can you refund one of the payments please?",
        "my password reset link doesn't work",
        "The parcel arrived but the box was crushed and the lamp inside is broken. What can I do?",
        "cancel my subscription",
        "Hello, I moved house last month and need to change the delivery address on my next two orders. Thanks!",
        "do you ship to Ireland",
        "I'd like to return the jacket, it doesn't fit. How do I get a return label?",
        "can i pay with paypal",
        "Good morning, the discount code from your newsletter says it is invalid at checkout, could you check it?",
        "speak to a human please",
        "It's been 12 days and my refund still hasn't shown up on my card, any news?",
        "is the blue kettle back in stock",
        "Please delete my account and all the data you hold about me.",
        "wrong size delivered",
        "Hey, I can't log in since the app update, it keeps saying my session expired even after I sign in again.",
    ];

    /// <summary>The non-empty texts of a CSV or JSONL file's text column, read as <c>slm classify --file</c> reads them.</summary>
    public static IReadOnlyList<string> ReadTexts(string path, string textColumn, CancellationToken ct = default)
    {
        var texts = BatchClassification.ReadTable(path, textColumn, ct).Texts.Select(t => Data.DocumentExtractor.Clean(t).Trim()).Where(t => t.Length > 0).ToList();
        if (texts.Count == 0) throw new EngineException($"The column '{textColumn}' of {Path.GetFileName(path)} holds no text to measure.");
        return texts;
    }

    /// <param name="passes">Timed passes over the texts; the median pass is reported.</param>
    /// <param name="minimumTexts">Each pass classifies at least this many texts (the sample repeated): ten batches of 32, so that a pass is long enough to time.</param>
    public static ClassificationSpeedResult Measure(OnnxClassifier classifier, IReadOnlyList<string> texts, int batchSize, int passes = 3, int minimumTexts = 320, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(passes, 1);
        if (texts.Count == 0) throw new ArgumentException("Give at least one text to measure.", nameof(texts));
        var count = Math.Max(minimumTexts, texts.Count);
        count = (count + batchSize - 1) / batchSize * batchSize; // whole batches only
        var work = Enumerable.Range(0, count).Select(i => texts[i % texts.Count]).ToList();
        var batches = work.Chunk(batchSize).ToList();

        // A warm-up pass: the first run of a session allocates and plans its buffers.
        foreach (var batch in batches.Take(2)) classifier.RunPadded(classifier.Encode(batch));
        var rates = new List<double>(passes);
        for (int p = 0; p < passes; p++)
        {
            var clock = Stopwatch.StartNew();
            foreach (var batch in batches)
            {
                ct.ThrowIfCancellationRequested();
                // As a caller would: tokenize, then one graph run for the batch exactly as given.
                classifier.RunPadded(classifier.Encode(batch));
            }
            clock.Stop();
            rates.Add(work.Count / Math.Max(clock.Elapsed.TotalSeconds, 1e-9));
        }
        var median = rates.Order().ElementAt(rates.Count / 2);
        return new ClassificationSpeedResult(batchSize, work.Count, median, 1000.0 * batchSize / median, 1000.0 / median, rates);
    }
}
