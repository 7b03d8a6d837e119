using SlmStudio.Core.Inference;

namespace SlmStudio.Core.Instruction;

/// <summary>A goal test of a chat model: this question must get an answer that contains this text.</summary>
public sealed record ChatGoal(string Question, string MustContain);

/// <summary>The answer a chat model gave to a goal test and whether it contains the required text (ignoring case).</summary>
public sealed record ChatGoalResult(string Question, string MustContain, bool Passed, string Answer);

/// <summary>
/// Goal tests for "Answer questions" ("question -> answer must contain"): each question is asked on its own (no earlier
/// conversation) with greedy decoding, so the verdict is the same every time.
/// </summary>
public static class ChatGoalTests
{
    public static async Task<IReadOnlyList<ChatGoalResult>> RunAsync(OnnxArtifact artifact, IEnumerable<ChatGoal> goals, CancellationToken ct = default)
    {
        var results = new List<ChatGoalResult>();
        foreach (var goal in goals)
        {
            var answer = await new ChatSession(artifact).AskAsync(goal.Question, ct).ConfigureAwait(false);
            results.Add(new ChatGoalResult(goal.Question, goal.MustContain, Passes(answer, goal.MustContain), answer));
        }
        return results;
    }

    /// <summary>True when <paramref name="answer"/> contains <paramref name="mustContain"/> (trimmed), ignoring case.</summary>
    public static bool Passes(string answer, string mustContain) => answer.Contains(mustContain.Trim(), StringComparison.OrdinalIgnoreCase);
}
