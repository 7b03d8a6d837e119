using SlmStudio.Core.Training;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Training;

public class AdamWTests
{
    [Fact]
    public void A_learning_rate_scale_moves_the_named_parameters_that_many_times_as_far()
    {
        using var plain = zeros(3).requires_grad_();
        using var fast = zeros(3).requires_grad_();
        using var optimizer = new AdamW([("plain", plain), ("fast", fast)], weightDecay: 0, learningRateScale: name => name == "fast" ? 10 : 1);
        using (var loss = (plain * tensor(new[] { 1f, -2f, 3f })).sum() + (fast * tensor(new[] { 1f, -2f, 3f })).sum()) loss.backward();
        optimizer.Update(0.01);
        // Adam's first step is the learning rate against the gradient's sign, whatever the gradient's size.
        Assert.Equal([-0.01f, 0.01f, -0.01f], plain.detach().data<float>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-6);
        Assert.Equal([-0.1f, 0.1f, -0.1f], fast.detach().data<float>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-5);
    }
}
