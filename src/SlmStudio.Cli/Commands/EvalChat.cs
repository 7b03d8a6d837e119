using System.Globalization;
using System.Text.Json;
using SlmStudio.Core;
using SlmStudio.Core.Data;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Instruction;

namespace SlmStudio.Cli.Commands;

/// <summary><c>slm eval</c> for chat models: greedy answers to the file's questions, scored against the expected answers.</summary>
internal static class EvalChat
{
    public static int Run(string artifactDir, string data, InstructionColumns columns, bool json, CancellationToken ct)
    {
        if (!File.Exists(data)) throw new UsageException($"The data file '{data}' does not exist; give a CSV, JSONL or Excel file with a question and an answer column.");
        var file = InstructionData.ReadFile(data, columns, ct);
        if (file.Problems.FirstOrDefault(p => p.Severity == ProblemSeverity.Error) is { } error) throw new EngineException($"{error.Message} {error.Fix}");
        var usable = file.Conversations.Where(c => c.IsUsable).ToList();
        if (usable.Count == 0) throw new EngineException($"'{Path.GetFileName(data)}' has no row with both a question and an answer to measure the model on.");
        using var artifact = OnnxArtifact.Open(artifactDir);
        var evaluation = AnswerEvaluation.Of(usable, prompt => ChatSession.Answer(artifact, prompt), ct);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                exactMatch = evaluation.ExactMatch,
                tokenF1 = evaluation.TokenF1,
                rougeL = evaluation.RougeL,
                questions = evaluation.Questions,
                best = evaluation.Best,
                worst = evaluation.Worst,
            }, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
            return 0;
        }
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"exact match: {evaluation.ExactMatch:P1} ({evaluation.Questions:N0} questions)"));
        Console.WriteLine(string.Create(inv, $"token F1:    {evaluation.TokenF1:0.000}"));
        Console.WriteLine(string.Create(inv, $"ROUGE-L:     {evaluation.RougeL:0.000}"));
        Print("best answers", evaluation.Best);
        Print("worst answers", evaluation.Worst);
        return 0;

        void Print(string title, IReadOnlyList<AnswerExample> examples)
        {
            Console.WriteLine();
            Console.WriteLine($"{title}:");
            foreach (var e in examples)
            {
                Console.WriteLine(string.Create(inv, $"  Q: {e.Question}  (F1 {e.TokenF1:0.00})"));
                Console.WriteLine($"     expected: {e.Expected}");
                Console.WriteLine($"     got:      {e.Got}");
            }
        }
    }
}
