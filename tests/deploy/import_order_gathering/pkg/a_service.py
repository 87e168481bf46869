from pkg.b_models import Model

service = Model
