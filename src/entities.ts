/** Every MikroORM entity, for the ORM's discovery. */
import { AccountEntity } from './modules/accounts/account.entity';
import { ApiKeyEntity } from './modules/accounts/api-key.entity';
import { OrderEntity } from './modules/orders/order.entity';
import { TradeEntity } from './modules/orders/trade.entity';
import { PositionEntity } from './modules/positions/position.entity';

export const entities = [AccountEntity, ApiKeyEntity, OrderEntity, TradeEntity, PositionEntity];
