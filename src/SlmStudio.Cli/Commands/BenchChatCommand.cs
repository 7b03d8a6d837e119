using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SlmStudio.Core.Instruction;
using SlmStudio.Core.Training;

using static SlmStudio.Cli.CliOptions;
namespace SlmStudio.Cli.Commands;

/// <summary><c>slm bench chat</c>: instruction tuning from scratch on generated company pairs, held-out scores before and after.</summary>
public sealed class BenchChatCommand : SlmCommand
{
    public const string WorkFolderPrefix = "slm-bench-chat-";
    private const double DefaultMinutes = 10;

    private readonly Option<double?> _minutes = Double("--minutes", "M", string.Create(CultureInfo.InvariantCulture, $"training time, language phase included (default {DefaultMinutes})"), 0.05, 24 * 60);
    private readonly Option<int?> _maxSteps = Int("--max-steps", "N", "train this many steps instead of for a time", 2, 10_000_000);
    private readonly Option<string?> _preset = Text("--preset", "name", "model size preset (default auto)");
    private readonly Option<double?> _languageShare = Double("--language-share", "S", string.Create(CultureInfo.InvariantCulture, $"share of the time spent learning the language of the pairs first (default {InstructionRunOptions.DefaultLanguagePhaseShare})"), 0.05, 0.95);
    private readonly Option<double?> _lr = Double("--lr", "LR", "peak learning rate of the instruction phase (default 1e-3)", 1e-7, 1);
    private readonly Option<int?> _vocabSize = Int("--vocab-size", "N", "tokenizer vocabulary size (default 1024)", 260, 1_000_000);
    private readonly Option<string?> _device = Text("--device", "auto|cpu|cuda", "where to train (default auto)");
    private readonly Option<bool> _json = Flag("--json", "print one JSON object instead of text");

    public BenchChatCommand() : base("chat", "Measure instruction tuning from scratch: held-out token F1 before and after, and the minutes it took.", $"""
        Generates the same {CompanyQuestions.Facts().Count} facts of a made-up office-supplies company every time (prices,
        warranties, colours, contacts, opening hours, offices, policies), each asked in {CompanyQuestions.PhrasingsPerFact}
        ways. Trains "Answer questions" from scratch on four phrasings of every fact (language phase on the pairs' text,
        then the answers) and asks each fact in its fifth phrasing, which training never saw. Prints exact match, token F1
        and ROUGE-L of greedy answers for the untrained model, after the language phase and after instruction tuning,
        and the minutes. The work folder in the temporary folder is deleted at the end.
        """)
    {
        foreach (var option in new Option[] { _minutes, _maxSteps, _preset, _languageShare, _lr, _vocabSize, _device, _json }) Options.Add(option);
    }

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var json = parsed.GetValue(_json);
        var options = new InstructionBenchmark.Options
        {
            Minutes = parsed.GetValue(_minutes) ?? DefaultMinutes,
            MaxSteps = parsed.GetValue(_maxSteps),
            Preset = parsed.GetValue(_preset) ?? TrainingOptions.DefaultPreset,
            LanguagePhaseShare = parsed.GetValue(_languageShare) ?? InstructionRunOptions.DefaultLanguagePhaseShare,
            LearningRate = parsed.GetValue(_lr),
            VocabSize = parsed.GetValue(_vocabSize) ?? 1024,
            Device = parsed.GetValue(_device) ?? TrainingOptions.DefaultDevice,
        };
        using var work = BenchmarkWorkFolder.Create(WorkFolderPrefix, json ? null : new Progress<string>(Console.WriteLine));
        IProgress<TrainingEvent> progress = json ? new Progress<TrainingEvent>() : new Narration();
        var result = InstructionBenchmark.Run(options, work.Path, progress, cancellationToken);
        var inv = CultureInfo.InvariantCulture;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(result, TrainingEvent.Json));
            return Task.FromResult(0);
        }
        Console.WriteLine(string.Create(inv, $"{result.TrainPairs} training pairs, {result.HeldOutQuestions} held-out questions in new words; {result.Parameters:N0} parameters; {result.Steps:N0} instruction steps"));
        Console.WriteLine(string.Create(inv, $"training {result.TrainingMinutes:0.0} min (all {result.TotalMinutes:0.0} min with the scoring)"));
        Console.WriteLine($"{"held-out",-22} {"exact match",12} {"token F1",9} {"ROUGE-L",8}");
        foreach (var (name, s) in new[] { ("untrained", result.Untrained), ("after language phase", result.AfterLanguagePhase), ("after tuning", result.After) })
            Console.WriteLine(string.Create(inv, $"{name,-22} {s.ExactMatch,12:P1} {s.TokenF1,9:0.000} {s.RougeL,8:0.000}"));
        foreach (var e in result.Examples)
        {
            Console.WriteLine(string.Create(inv, $"  Q: {e.Question}  (F1 {e.TokenF1:0.00})"));
            Console.WriteLine($"     expected: {e.Expected}");
            Console.WriteLine($"     got:      {e.Got}");
        }
        return Task.FromResult(0);
    }

    /// <summary>The run's messages and evaluations as plain lines, so a long benchmark shows that it is moving.</summary>
    private sealed class Narration : IProgress<TrainingEvent>
    {
        public void Report(TrainingEvent value)
        {
            switch (value)
            {
                case TrainingMessage m: Console.WriteLine(m.Text); break;
                case EvaluationResult e: Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  step {e.Step}: validation loss {e.ValLoss:0.000}")); break;
            }
        }
    }
}
