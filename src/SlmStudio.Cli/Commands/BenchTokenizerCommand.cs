using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using SlmStudio.Cli.Bench;
using SlmStudio.Core.Tokenization;

using static SlmStudio.Cli.CliOptions;
namespace SlmStudio.Cli.Commands;

/// <summary><c>slm bench tokenizer</c>: BPE training time, encoding throughput and compression on about 1 MB of text.</summary>
public sealed class BenchTokenizerCommand : SlmCommand
{
    private const int DefaultVocabSize = 4096;
    private const int DefaultBytes = 1_000_000;

    private readonly Option<string?> _data = Text("--data", "file", "UTF-8 text to train on (default: 1 MB of generated English-like text)");
    private readonly Option<int?> _vocabSize = Int("--vocab-size", "n", $"vocabulary size including the 259 byte and special tokens (default {DefaultVocabSize})", 1, 1_000_000);
    private readonly Option<int?> _bytes = Int("--bytes", "n", $"how much of the text to use, in bytes of UTF-8 (default {DefaultBytes})", 1000, int.MaxValue);

    public BenchTokenizerCommand() : base("tokenizer", "Time tokenizer training and encoding on about 1 MB of text", "")
    {
        foreach (var option in new Option[] { _data, _vocabSize, _bytes }) Options.Add(option);
    }

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var data = parsed.GetValue(_data);
        int vocabSize = parsed.GetValue(_vocabSize) ?? DefaultVocabSize;
        int bytes = parsed.GetValue(_bytes) ?? DefaultBytes;
        BpeTrainer trainer;
        try { trainer = new BpeTrainer(vocabSize); }
        catch (SlmStudio.Core.EngineException e) { throw new UsageException(e.Message); }

        string text, source;
        if (data is null)
        {
            text = EnglishTextGenerator.Generate(bytes);
            source = "generated English-like text";
        }
        else
        {
            if (!File.Exists(data)) throw new UsageException($"--data file '{data}' does not exist.");
            text = File.ReadAllText(data, Encoding.UTF8);
            if (Encoding.UTF8.GetByteCount(text) > bytes) text = TruncateToBytes(text, bytes);
            source = Path.GetFileName(data);
            if (text.Length == 0) throw new UsageException($"--data file '{data}' is empty.");
        }
        long utf8Bytes = Encoding.UTF8.GetByteCount(text);
        Console.WriteLine($"text: {source}, {utf8Bytes:N0} bytes, {text.Length:N0} characters; vocabulary size {vocabSize}");

        var stopwatch = Stopwatch.StartNew();
        var tokenizer = trainer.Train(text, cancellationToken);
        var trainSeconds = stopwatch.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"training: {trainSeconds:F2} s ({tokenizer.VocabSize} tokens, {tokenizer.MergeCount} merges)"));

        // Encoding: fresh tokenizers from the saved file. The first one warms up the JIT; the second shows the speed
        // with a cold word cache (every distinct word merged once), then passes with a warm cache.
        var path = Path.Combine(Path.GetTempPath(), $"slm-bench-tokenizer-{Environment.ProcessId}.json");
        try
        {
            tokenizer.Save(path);
            TokenizerFile.Load(path).Encode(text[..Math.Min(text.Length, 100_000)]);
            var loaded = TokenizerFile.Load(path);
            stopwatch.Restart();
            var ids = loaded.Encode(text);
            var cold = stopwatch.Elapsed.TotalSeconds;
            stopwatch.Restart();
            int passes = 0;
            while (stopwatch.Elapsed.TotalSeconds < 1.0 || passes < 2) { loaded.Encode(text); passes++; }
            var warm = stopwatch.Elapsed.TotalSeconds / passes;
            stopwatch.Restart();
            var decoded = loaded.Decode(ids);
            var decodeSeconds = stopwatch.Elapsed.TotalSeconds;
            double mb = utf8Bytes / 1e6;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"encode: {mb / cold:F1} MB/s cold word cache, {mb / warm:F1} MB/s warm cache; decode: {mb / decodeSeconds:F1} MB/s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"compression: {(double)text.Length / ids.Length:F2} characters per token, {(double)utf8Bytes / ids.Length:F2} bytes per token ({ids.Length:N0} tokens)"));
            if (decoded != text)
            {
                Console.Error.WriteLine("error: decoding the encoded text did not give the text back.");
                return Task.FromResult(1);
            }
            Console.WriteLine("round trip: decode(encode(text)) == text");
        }
        finally
        {
            File.Delete(path);
        }
        return Task.FromResult(0);
    }

    private static string TruncateToBytes(string text, int maxBytes)
    {
        int chars = Math.Min(text.Length, maxBytes);
        while (chars > 0 && Encoding.UTF8.GetByteCount(text.AsSpan(0, chars)) > maxBytes) chars -= Math.Max(1, chars / 100);
        if (chars > 0 && char.IsHighSurrogate(text[chars - 1])) chars--;
        return text[..chars];
    }
}
