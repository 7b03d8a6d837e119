using SlmStudio.Core.Inference;

namespace SlmStudio.Core.Retrieval;

/// <summary>
/// An answer a model wrote from numbered passages. <see cref="PassagesRead"/> are the passages the prompt held, numbered
/// from 1 as the citations use them (the first ones of those given: fewer when the model's context is short).
/// </summary>
public sealed record WrittenAnswer(
    string Text,
    AnswerCitations Citations,
    IReadOnlyList<Passage> PassagesRead,
    bool SaysNotAnswered,
    string FinishReason,
    string Prompt);

/// <summary>
/// Writes an answer from passages with an exported model: the grounded prompt (<see cref="GroundedAnswer.BuildPrompt"/>)
/// made to fit the model's context, greedy decoding up to a token cap, the citations parsed back to passages.
/// A model that is not instruction-tuned continues the prompt rather than following it; the answer is then poor,
/// but what is cited is still checked against the passages.
/// </summary>
public static class DocumentAnswerer
{
    public const int DefaultMaxNewTokens = 200;
    /// <summary>Fewer new tokens than this is no room for an answer: the context is too short for the prompt.</summary>
    public const int MinNewTokens = 16;

    // Shorter passages before fewer passages: the first passages matter most, and a cut passage still shows its source.
    private static readonly int[] PassageCharacterLimits = [1500, 800, 400, 200];

    /// <summary>Where a base model would go on to write the next question of its own, the answer has ended.</summary>
    private static readonly string[] StopSequences = ["\nQuestion:", "\nPassages:"];

    public static async Task<WrittenAnswer> WriteAsync(TextGenerator generator, string question, IReadOnlyList<Passage> passages,
        int maxNewTokens = DefaultMaxNewTokens, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNewTokens, 1);
        var (prompt, read, newTokens) = FitPrompt(generator, question, passages, maxNewTokens);
        var settings = GenerationSettings.Greedy(newTokens) with { StopSequences = StopSequences };
        var result = (await generator.GenerateBatchAsync([prompt], settings, ct).ConfigureAwait(false))[0];
        var text = result.Text.Trim();
        return new WrittenAnswer(text, GroundedAnswer.ParseCitations(text, read), read, GroundedAnswer.SaysNotAnswered(text), result.FinishReason, prompt);
    }

    /// <summary>
    /// The largest prompt that leaves <paramref name="maxNewTokens"/> free in the model's context: all passages at
    /// full length if they fit, else shorter passages, else fewer; with only the first passage at its shortest, the
    /// answer gets the room that is left (at least <see cref="MinNewTokens"/>).
    /// </summary>
    public static (string Prompt, IReadOnlyList<Passage> PassagesRead, int MaxNewTokens) FitPrompt(
        TextGenerator generator, string question, IReadOnlyList<Passage> passages, int maxNewTokens)
    {
        int context = generator.Artifact.Config.MaxPositions;
        int Tokens(string prompt) => generator.Encode(prompt).Length;
        if (passages.Count == 0)
        {
            var empty = GroundedAnswer.BuildPrompt(question, passages);
            return Fit(empty, passages, Tokens(empty));
        }
        string smallest = "";
        foreach (var limit in PassageCharacterLimits)
        {
            for (int count = passages.Count; count >= 1; count--)
            {
                // At the long limits only drop passages after shortening them; at the shortest keep dropping.
                if (limit != PassageCharacterLimits[^1] && count < passages.Count) break;
                var taken = passages.Take(count).ToList();
                var prompt = GroundedAnswer.BuildPrompt(question, taken, limit);
                var tokens = Tokens(prompt);
                if (tokens + maxNewTokens <= context) return (prompt, taken, maxNewTokens);
                if (count == 1) smallest = prompt;
            }
        }
        return Fit(smallest, [passages[0]], Tokens(smallest));

        (string, IReadOnlyList<Passage>, int) Fit(string prompt, IReadOnlyList<Passage> read, int tokens)
        {
            var room = Math.Min(maxNewTokens, context - tokens);
            if (room < Math.Min(MinNewTokens, maxNewTokens))
                throw new EngineException(
                    $"This model reads at most {context} tokens at a time: too few for the instructions, the question and even one short passage ({tokens} tokens). Use a model with a longer context, or a shorter question.");
            return (prompt, read, room);
        }
    }
}
