using SlmStudio.Core.Training;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Training;

public static class RunProgress
{
    /// <summary>Copies the latest figures of a trainer event onto the run (the job stores them; open pages show them).</summary>
    public static void Apply(this TrainingRun run, TrainingEvent e)
    {
        switch (e)
        {
            case TrainingStarted started:
                run.Parameters = started.Parameters;
                run.Device = started.Device;
                run.MaxSteps = started.MaxSteps;
                run.Step = started.StartStep;
                run.VocabSize = started.VocabSize;
                break;
            case TrainingStep step:
                run.Step = step.Step;
                run.MaxSteps = step.MaxSteps;
                run.Loss = step.Loss;
                run.LearningRate = step.Lr;
                run.TokensPerSecond = step.TokensPerSecond;
                run.EtaSeconds = step.EtaSeconds;
                break;
            case EvaluationResult eval:
                run.ValLoss = eval.ValLoss;
                run.Perplexity = eval.Perplexity;
                run.BitsPerChar = eval.BitsPerChar;
                break;
        }
    }
}
