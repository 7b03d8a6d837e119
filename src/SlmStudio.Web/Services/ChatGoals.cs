using SlmStudio.Core.Inference;
using SlmStudio.Core.Instruction;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Services;

/// <summary>Goal tests of "Answer questions": "this question -> the answer must contain this", answered by the engine's
/// chat template (<see cref="ChatGoalTests"/>), each question in a fresh conversation.</summary>
public static class ChatGoals
{
    public static async Task<List<GoalResult>> RunAsync(OnnxArtifact artifact, IReadOnlyList<GoalTest> tests, CancellationToken ct)
    {
        if (tests.Count == 0) return [];
        var results = await ChatGoalTests.RunAsync(artifact, tests.Select(t => new ChatGoal(t.Prompt, t.MustContain)), ct);
        return [.. results.Select(r => new GoalResult(r.Question, r.MustContain, r.Passed, r.Answer))];
    }
}
